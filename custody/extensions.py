"""Flask extensions, created unbound; `create_app` binds them to an app."""

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from custody.models.base import Base

# A request's reply is built from what it just wrote, not reloaded after the commit: each
# request has a session of its own, so nothing outlives the request it was read in. A rollback
# still expires everything (a retry reads afresh), and so does a bookkeeping write's commit.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
