"""Middleware that runs before Django's own."""
from django.conf import settings
from django.http import HttpResponse


class HealthCheckMiddleware:
    """Answers SHOP_HEALTH_PATH with 200 "ok" before anything reads the Host header.

    HAProxy's and Varnish's health checks send the Host of the app's Service, which
    ALLOWED_HOSTS need not list. The check is cheap on purpose: it says that this process
    serves requests. A database outage should not take every app pod out of rotation at
    once (pages cached in Redis and Varnish still work); it shows in the error rate instead.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.path = settings.SHOP_HEALTH_PATH

    def __call__(self, request):
        if request.path_info == self.path:
            return HttpResponse("ok\n", content_type="text/plain")
        return self.get_response(request)


class InstanceHeaderMiddleware:
    """Adds X-App-Instance (the pod name, or SHOP_INSTANCE) to every response, so that one
    can see which app instance served a request."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.instance = settings.SHOP_INSTANCE

    def __call__(self, request):
        response = self.get_response(request)
        if self.instance:
            response["X-App-Instance"] = self.instance
        return response
