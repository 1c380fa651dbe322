"""A printable invitation card, for people without email: their sign-in code, and a QR code of their link.

The facilitator prints it (``coproduce people invite ENG PERSON --print card.pdf``) and hands it over
in person. The card is a secret until it is used: whoever holds it can sign in once as that person,
within the week it is valid. PNG or PDF, A6 at 300 dots per inch, black on white.
"""

from __future__ import annotations

import io
from pathlib import Path

import segno
from PIL import Image, ImageDraw, ImageFont

from ..errors import UserError
from .sign_in import Invitation

WIDTH, HEIGHT = 1240, 1748  # A6 at 300 dpi


def card_image(invitation: Invitation, name: str | None, sign_in_page: str) -> Image.Image:
    """The card as an image."""
    card = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(card)
    big, mid, small = (ImageFont.load_default(size=s) for s in (96, 54, 40))
    y = 80
    draw.text((80, y), "Your sign-in card", font=mid, fill="black")
    y += 90
    if name:
        draw.text((80, y), f"For {name}", font=small, fill="black")
        y += 70
    qr = segno.make(invitation.link, error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=14, border=2)
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    side = min(760, image.width)
    image = image.resize((side, side))
    card.paste(image, ((WIDTH - side) // 2, y))
    y += side + 40
    draw.text((80, y), "Scan the square with your phone's camera, or go to", font=small, fill="black")
    y += 56
    draw.text((80, y), sign_in_page, font=small, fill="black")
    y += 70
    draw.text((80, y), "and type this code:", font=small, fill="black")
    y += 70
    draw.text((80, y), invitation.code, font=big, fill="black")
    y += 140
    draw.text(
        (80, y),
        f"It works once, within {invitation.expires_in_days} days. Keep it safe.",
        font=small,
        fill="black",
    )
    return card


def save_card(invitation: Invitation, name: str | None, sign_in_page: str, path: Path) -> None:
    """Write the card to ``path`` (.png or .pdf), never over an existing file."""
    kind = path.suffix.lower()
    if kind not in (".png", ".pdf"):
        raise UserError(f"{path}: a card is printed as .png or .pdf; give a file name ending in one of them")
    if path.exists():
        raise UserError(f"{path} exists already; choose a new file name for the card")
    image = card_image(invitation, name, sign_in_page)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "PNG" if kind == ".png" else "PDF", resolution=300)
