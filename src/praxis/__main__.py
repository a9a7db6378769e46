from praxis.cli import app

app()
