from django.contrib import admin
from django.urls import path

from dsite import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("contact/", views.contact, name="contact"),
    path("contact/thanks/", views.thanks, name="thanks"),
    path("upload/", views.upload, name="upload"),
    path("info/", views.info, name="info"),
    path("to_next/", views.to_next, name="to_next"),
    path("download/", views.download, name="download"),
    path("stream/", views.stream, name="stream"),
]
