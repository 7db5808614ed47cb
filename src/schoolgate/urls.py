"""URL routes: the admin console, the portal, the REST API, SCIM, the OpenID Connect provider, health,
readiness and metrics.

There is deliberately no Django admin site: it would be a window across every district, around the
authorization layer (`schoolgate.admins.authz`) that scopes everything else."""

from django.urls import include, path

from schoolgate.core import observability

urlpatterns = [
    path("health", observability.health, name="health"),
    path("ready", observability.ready, name="ready"),
    path("metrics", observability.metrics, name="metrics"),
    path("portal/", include("schoolgate.portal.urls")),
    path("console/", include("schoolgate.console.urls")),
    path("api/v1/", include("schoolgate.api.urls")),
    path("scim/v2/", include("schoolgate.scim.urls")),
    path("oauth/", include("schoolgate.oidc.urls")),
]
