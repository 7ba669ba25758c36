"""One view: POST an ``email`` to ``/contact/`` and get a confirmation mail."""

from __future__ import annotations

from django.core.mail import EmailMultiAlternatives
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt
@require_POST
def contact(request: HttpRequest) -> HttpResponse:
    """Send a text + html confirmation to the posted address."""
    message = EmailMultiAlternatives(
        subject="We got your message",
        body="Thanks, we will answer soon.",
        to=[request.POST["email"]],
        reply_to=["support@example.com"],
    )
    message.attach_alternative("<p>Thanks, we will answer soon.</p>", "text/html")
    sent = message.send()
    result = message.unisend_result  # type: ignore[attr-defined]  # set by the backend
    return JsonResponse({"sent": sent, "message_id": result.message_id})


urlpatterns = [path("contact/", contact)]
