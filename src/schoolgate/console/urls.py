"""Console URLs: everything below /console/<district>/ is scoped to that district."""

from django.contrib.auth import views as auth_views
from django.urls import path

from schoolgate.console.views import accounts, people, sync, tools, work
from schoolgate.console.views.home import LoginView, home

app_name = "console"
urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="console:login"), name="logout"),
    path("", home, name="home"),
    path("<slug:slug>/", tools.dashboard, name="dashboard"),
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
    path("<slug:slug>/generate/<int:group_id>/", work.preview, name="preview"),
    path("<slug:slug>/generate/<int:group_id>/start/", work.start, name="generate_start"),
    path("<slug:slug>/jobs/<int:job_id>/", work.job, name="job"),
    path("<slug:slug>/jobs/<int:job_id>/report.<str:kind>", work.report, name="job_report"),
    path("<slug:slug>/doctor/", tools.doctor, name="doctor"),
    path("<slug:slug>/notifications/", tools.notifications, name="notifications"),
    path("<slug:slug>/audit/", tools.audit_log, name="audit"),
]
