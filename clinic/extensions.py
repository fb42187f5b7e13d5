"""Extensions, created unbound and attached to the app in ``create_app``."""

from typing import TYPE_CHECKING

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from clinic.core.models import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()

# Every model's base. Flask-SQLAlchemy builds ``db.Model`` at run time from Base's body (adding
# its query property and bind key), so a type checker sees only a variable and cannot subclass
# it; to the checker the models derive from Base, whose columns and metadata are the same.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
