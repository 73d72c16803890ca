"""The book site puts each figure's alt text, carried in its notebook output, on the figure's image."""

import base64
import hashlib

from tools import book


def test_the_book_puts_each_figures_alt_text_on_its_image(tmp_path):
    png = b"\x89PNG fake bytes"
    nb = {"cells": [{"cell_type": "code", "outputs": [
        {"output_type": "display_data", "data": {"image/png": base64.b64encode(png).decode()},
         "metadata": {"image/png": {"alt": "Figure: Codes & labels."}}}]}]}
    alts = book.figure_alt_texts(nb)
    name = hashlib.sha256(png).hexdigest()
    assert alts == {name: "Figure: Codes & labels."}
    other = "0" * 64  # an image without an alt text in any notebook: left as it is
    page = tmp_path / "page.html"
    page.write_text(f'<p><img alt="../_images/{name}.png" src="../_images/{name}.png" />'
                    f'<img alt="../_images/{other}.png" src="../_images/{other}.png" /></p>')
    book.add_alt_texts(tmp_path, alts)
    assert page.read_text() == (f'<p><img alt="Figure: Codes &amp; labels." src="../_images/{name}.png" />'
                                f'<img alt="../_images/{other}.png" src="../_images/{other}.png" /></p>')
