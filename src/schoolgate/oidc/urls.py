"""OpenID Connect provider URLs (mounted at /oauth/).

Only what a relying party needs: discovery, keys, authorize (ours: logged in by the portal session), token,
revocation and userinfo. django-oauth-toolkit's application-management pages, dynamic client registration
and device flow are deliberately absent: clients are registered per district with `schoolgate oidc`.

The namespace is `oauth2_provider` because the toolkit's discovery document reverses its URL names in it.
"""

from django.urls import path, re_path
from oauth2_provider import views as dot

from schoolgate.oidc.views import DiscoveryView, PortalAuthorizationView

app_name = "oauth2_provider"
urlpatterns = [
    path("authorize/", PortalAuthorizationView.as_view(), name="authorize"),
    path("token/", dot.TokenView.as_view(), name="token"),
    path("revoke_token/", dot.RevokeTokenView.as_view(), name="revoke-token"),
    path("userinfo/", dot.UserInfoView.as_view(), name="user-info"),
    re_path(
        r"^\.well-known/openid-configuration/?$",
        DiscoveryView.as_view(),
        name="oidc-connect-discovery-info",
    ),
    path(".well-known/jwks.json", dot.JwksInfoView.as_view(), name="jwks-info"),
]
