def dashboard(request):
    return {
        "current_merchant": getattr(request, "merchant", None),
        "current_membership": getattr(request, "membership", None),
    }
