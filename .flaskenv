# Read by the `flask` command (python-dotenv) for local use; real environment
# variables win. Production sets KEYPULSE_ENV=production and a SECRET_KEY.
FLASK_APP=wsgi
KEYPULSE_ENV=development
