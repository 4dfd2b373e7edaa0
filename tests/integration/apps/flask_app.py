"""A Flask app for the framework tests: query strings, a JSON POST, a
streamed response, a 404, error handlers, a cookie and redirects (one made
absolute from the environ: test_forwarded.py), and send_file (which goes
through wsgi.file_wrapper)."""
import hashlib

from flask import Flask, Response, abort, jsonify, redirect, request, send_file, stream_with_context, url_for

app = Flask(__name__)
application = app


class TeapotError(Exception):
    pass


@app.errorhandler(TeapotError)
def handle_teapot(error):
    return jsonify(error="teapot", detail=str(error)), 418


@app.errorhandler(404)
def handle_not_found(error):
    return jsonify(error="not found", path=request.path), 404


@app.route("/")
def index():
    return "hello from flask\n"


@app.route("/query")
def query():
    return jsonify(args={k: request.args.getlist(k) for k in request.args},
                   path=request.path, full_path=request.full_path, url=request.url,
                   script_root=request.script_root)


@app.route("/user/<name>")
def user(name):
    return jsonify(name=name, length=len(name))


@app.route("/json", methods=["POST"])
def json_post():
    data = request.get_json()
    return jsonify(received=data, keys=sorted(data), total=sum(data.get("numbers", [])),
                   content_type=request.content_type)


@app.route("/form", methods=["POST"])
def form_post():
    files = {name: {"filename": f.filename, "sha256": hashlib.sha256(f.read()).hexdigest()}
             for name, f in request.files.items()}
    return jsonify(form=request.form.to_dict(), files=files)


@app.route("/stream")
def stream():
    n = request.args.get("n", 5, type=int)

    @stream_with_context
    def generate():
        for i in range(n):
            yield "line %d of %d for %s\n" % (i, n, request.args.get("who", "nobody"))
    return Response(generate(), mimetype="text/plain")


@app.route("/teapot")
def teapot():
    raise TeapotError("short and stout")


@app.route("/crash")
def crash():
    raise RuntimeError("an unhandled error in a Flask view")


@app.route("/forbidden")
def forbidden():
    abort(403)


@app.route("/cookie")
def cookie():
    resp = redirect(url_for("index"))
    resp.set_cookie("flavour", "oatmeal", max_age=60, httponly=True)
    return resp


@app.route("/to_next")
def to_next():
    # Werkzeug 2.1+ sends a relative Location as it is (the browser resolves
    # it against the frontend's URL); asked to, it makes it absolute from the
    # environ's scheme and host, as the absolute URLs an app builds are.
    resp = redirect("/next")
    resp.autocorrect_location_header = True
    return resp


@app.route("/head_or_get", methods=["GET", "HEAD"])
def head_or_get():
    return Response("x" * 1000, mimetype="text/plain")


@app.route("/download")
def download():
    # Test-only: serves the file the test names.
    return send_file(request.args["path"], as_attachment=True, download_name="data.bin")
