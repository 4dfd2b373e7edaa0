"""What test_forwarded.py serves behind the frontends: fe_app, with the Flask
app mounted at /flask and the Django site at /django (werkzeug's
DispatcherMiddleware moves the prefix into SCRIPT_NAME). Django needs
DROVER_TEST_DB_DIR in the environment, as in test_frameworks.py."""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "django_site"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dsite.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402
from werkzeug.middleware.dispatcher import DispatcherMiddleware  # noqa: E402

import fe_app  # noqa: E402
import flask_app  # noqa: E402

application = DispatcherMiddleware(fe_app.application, {
    "/flask": flask_app.app,
    "/django": get_wsgi_application(),
})
