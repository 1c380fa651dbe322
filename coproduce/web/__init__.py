"""The web app (``app.create_app``): sign-in and the pages approvers use, served by uvicorn
(``coproduce web``, and ``coproduce up`` on one machine). Templates in ``templates/`` extend the house
layout of ``application.html``; ``static/`` holds the one script, for passkeys."""
