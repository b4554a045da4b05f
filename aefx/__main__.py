from aefx.cli import app

app(prog_name="aefx")
