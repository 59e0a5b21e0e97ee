"""Celery plumbing for tenant work: the company_task decorator (STYLE rules 7 and 24)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from celery import shared_task

from tenants.models import Company
from tenants.scoping import company_scope, first_row


def company_task(*task_args, **task_options) -> Callable:
    """Declare a Celery task whose first argument is a company id; the body runs inside that company's scope.

    The wrapped function receives the Company object first. A company that no longer exists
    (deleted between enqueue and run) makes the task a no-op: there is nothing left to act on.
    """

    def decorator(func: Callable) -> Callable:
        @wraps(func)
        def run(company_id: int, *args, **kwargs):
            company = first_row(Company.objects.filter(pk=company_id))  # every task: no ORDER BY to compile
            if company is None:
                return None
            with company_scope(company):
                return func(company, *args, **kwargs)

        return shared_task(*task_args, **task_options)(run)

    if len(task_args) == 1 and callable(task_args[0]) and not task_options:
        func, task_args = task_args[0], ()
        return decorator(func)
    return decorator
