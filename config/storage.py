"""Production static files storage: WhiteNoise's hashed, compressed files, minus source-map rewriting."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


def _without_source_maps(patterns: tuple) -> tuple:
    return tuple(
        (extension, tuple(p for p in rules if "sourceMappingURL" not in (p if isinstance(p, str) else p[0])))
        for extension, rules in patterns
    )


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """The vendored Bootstrap files name .map files we do not ship (static/vendor/VERSIONS.md).

    Django's manifest storage rewrites those references and fails collectstatic when the map is
    missing; we leave the comments alone, so only an open devtools panel ever asks for a map (404).
    """

    patterns = _without_source_maps(CompressedManifestStaticFilesStorage.patterns)
