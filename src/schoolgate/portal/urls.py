"""Portal URLs. Links in e-mails carry a signed token; pages that need a district take its slug."""

from django.urls import path

from schoolgate.portal import views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("activate/<str:token>/", views.activate, name="activate"),
    path("password/reset/<str:token>/", views.reset, name="reset"),
    path("students/", views.students, name="students"),
    path("settings/", views.settings_view, name="settings"),
    path("settings/sign-out-everywhere/", views.sign_out_everywhere, name="sign_out_everywhere"),
    path("settings/password/", views.change_password, name="password"),
    path("logout/", views.log_out_view, name="logout"),
    path("<slug:slug>/login/", views.log_in_view, name="login"),
    path("<slug:slug>/password/forgot/", views.forgot, name="forgot"),
]
