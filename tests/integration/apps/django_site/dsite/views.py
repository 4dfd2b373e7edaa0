import hashlib

from django import forms
from django.contrib import messages
from django.http import FileResponse, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt


class ContactForm(forms.Form):
    name = forms.CharField(max_length=100)
    message = forms.CharField(widget=forms.Textarea)


def contact(request):
    """A CSRF-protected form: GET renders it, a valid POST redirects."""
    if request.method == "POST":
        form = ContactForm(request.POST)
        if form.is_valid():
            messages.success(request, "Thanks, %s: %d characters received." % (
                form.cleaned_data["name"], len(form.cleaned_data["message"])))
            return redirect("thanks")
    else:
        form = ContactForm()
    return render(request, "contact.html", {"form": form})


def thanks(request):
    return render(request, "thanks.html")


@csrf_exempt
def upload(request):
    """sha256 and size of every uploaded file, and the plain fields."""
    out = {"files": {}, "fields": {}}
    for name, f in request.FILES.items():
        digest = hashlib.sha256()
        for chunk in f.chunks():
            digest.update(chunk)
        out["files"][name] = {"name": f.name, "size": f.size, "sha256": digest.hexdigest(),
                              "in_memory": type(f).__name__}
    for name, value in request.POST.items():
        out["fields"][name] = value
    return JsonResponse(out)


def info(request):
    return JsonResponse({
        "path": request.path,
        "path_info": request.path_info,
        "get": {k: request.GET.getlist(k) for k in request.GET},
        "method": request.method,
        "secure": request.is_secure(),
        "host": request.get_host(),
        "full_path": request.get_full_path(),
    })


def to_next(request):
    """Django (since 1.9) sends a relative Location as it is; the absolute
    URL, built from the request's scheme and host, is what a proxy's
    forwarding headers decide."""
    return HttpResponseRedirect(request.build_absolute_uri("/next"))


def download(request):
    """FileResponse: Django hands its file to wsgi.file_wrapper. Test-only:
    serves the file the test names."""
    return FileResponse(open(request.GET["path"], "rb"), as_attachment=True, filename="data.bin")


def stream(request):
    n = int(request.GET.get("n", "10"))
    return StreamingHttpResponse(("row %d\n" % i for i in range(n)), content_type="text/plain")
