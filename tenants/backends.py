"""Authentication backend: log in with the username or the e-mail address."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import Q


class UsernameOrEmailBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        user_model = get_user_model()
        user = user_model._default_manager.filter(Q(username=username) | Q(email__iexact=username)).first()
        if user is None:
            user_model().set_password(password)  # same work as a real check: no user-enumeration by timing
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
