"""Routes of the claims resource under /api/v1/ (``tracking/claims/api.py``)."""

from django.urls import path

from tracking.claims import api, protections_api

urlpatterns = [
    path("claims", api.ClaimListView.as_view(), name="claim-list"),
    path("claims/<int:pk>", api.ClaimDetailView.as_view(), name="claim-detail"),
    path("claims/<int:pk>/approve", api.ClaimApproveView.as_view(), name="claim-approve"),
    path("claims/<int:pk>/reject", api.ClaimRejectView.as_view(), name="claim-reject"),
    path("claims/<int:pk>/resolve", api.ClaimResolveView.as_view(), name="claim-resolve"),
    path(
        "protected-orders",
        protections_api.OrderProtectionView.as_view(),
        name="protected-order-list",
    ),
]
