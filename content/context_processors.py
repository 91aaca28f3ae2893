"""Template variables every page's layout needs."""
from django.conf import settings


def site(request) -> dict:
    """``nextcloud_configured``: show the Nextcloud file pages in the navigation."""
    return {"nextcloud_configured": bool(settings.NEXTCLOUD_URL)}
