"""Console URLs: everything below /console/<district>/ is scoped to that district; /console/operator/ is the
platform operator's; the rest is logging in (password, then the second factor) and accepting invitations."""

from django.contrib.auth import views as auth_views
from django.urls import path

from schoolgate.console.views import (
    accounts,
    admins,
    integrations,
    operator,
    people,
    security,
    sync,
    tools,
    work,
)

app_name = "console"
urlpatterns = [
    path("login/", security.LoginView.as_view(), name="login"),
    path("login/verify/", security.mfa, name="mfa"),
    path("logout/", auth_views.LogoutView.as_view(next_page="console:login"), name="logout"),
    path("invitation/<str:token>/", security.invitation, name="invitation"),
    path("security/", security.security, name="security"),
    path("", security.home, name="home"),
    path("switch/", security.switch, name="switch"),
    path("operator/", operator.overview, name="operator"),
    path("operator/districts/", operator.add_district, name="operator_add_district"),
    path("operator/requests/<int:request_id>/", operator.decide, name="operator_decide"),
    path("<slug:slug>/", tools.dashboard, name="dashboard"),
    path("<slug:slug>/usage/", tools.usage, name="usage"),
    path("<slug:slug>/admins/", admins.admins, name="admins"),
    path("<slug:slug>/admins/manage/", admins.manage, name="admins_manage"),
    path("<slug:slug>/accounts/", accounts.account_list, name="accounts"),
    path("<slug:slug>/accounts/action/", accounts.account_action, name="account_action"),
    path("<slug:slug>/people/<str:code>/", people.person, name="person"),
    path("<slug:slug>/people/<str:code>/override/", people.override, name="override"),
    path("<slug:slug>/people/<str:code>/transfer/", people.transfer, name="transfer"),
    path("<slug:slug>/sync/", sync.runs, name="sync"),
    path("<slug:slug>/sync/upload/", sync.upload, name="sync_upload"),
    path("<slug:slug>/sync/<int:run_id>/", sync.run_detail, name="sync_run"),
    path("<slug:slug>/sync/<int:run_id>/decide/", sync.decide, name="sync_decide"),
    path("<slug:slug>/generate/", work.groups, name="groups"),
    path("<slug:slug>/generate/new/", work.add_group, name="group_add"),
    path("<slug:slug>/generate/<int:group_id>/", work.preview, name="preview"),
    path("<slug:slug>/generate/<int:group_id>/start/", work.start, name="generate_start"),
    path("<slug:slug>/jobs/<int:job_id>/", work.job, name="job"),
    path("<slug:slug>/jobs/<int:job_id>/report.<str:kind>", work.report, name="job_report"),
    path("<slug:slug>/doctor/", tools.doctor, name="doctor"),
    path("<slug:slug>/notifications/", tools.notifications, name="notifications"),
    path("<slug:slug>/audit/", tools.audit_log, name="audit"),
    path("<slug:slug>/integrations/", integrations.integrations, name="integrations"),
]
