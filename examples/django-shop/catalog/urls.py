from django.urls import path

from . import views

urlpatterns = [
    path("", views.home),
    path("people/", views.people_list),
    path("people/count/", views.people_count),
    path("people/search/", views.people_search),
    path("people/<int:pk>/", views.person_detail),
    path("books/", views.books),
    path("authors/<int:pk>/", views.author_detail),
    path("stock/", views.stock),
    path("api/people/<int:pk>/", views.api_person),
    path("api/invoices/", views.api_invoices),
    path("api/invoices/<int:pk>/", views.api_invoice),
]
