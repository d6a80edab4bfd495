from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.cache import cache_control
from django.views.static import serve

urlpatterns = [
    path("", include("catalog.urls")),
    path("admin/", admin.site.urls),
    # Static files from STATIC_ROOT, also with DEBUG off: Varnish caches /static/ for a day
    # (cache rule with ignoreCookies), so the app serves each file about once per day and
    # per Varnish replica. Browsers may keep them for an hour.
    re_path(r"^static/(?P<path>.*)$", cache_control(public=True, max_age=3600)(serve), {"document_root": settings.STATIC_ROOT}),
]
