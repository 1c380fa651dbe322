"""The entrances: thin layers that parse what a person sends, call one use case of ``application``,
and render what it returns.

- ``cli``: the ``coproduce`` command (typer and rich).
"""
