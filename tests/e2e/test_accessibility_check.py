"""The axe-core check itself can fail: an unlabelled input and a link told apart by colour alone are reported with
their rule, impact and selector, even under a Content-Security-Policy that forbids inline scripts like ours."""

import pytest

CSP_PAGE = (
    "<!doctype html><html lang='fr'><head><title>Essai</title>"
    "<meta http-equiv='Content-Security-Policy' content=\"script-src 'self'\"></head>"
    "<body><main>{}</main></body></html>"
)


def test_the_check_lists_each_serious_violation_with_its_selector(new_browser_page, assert_accessible):
    page = new_browser_page()
    page.set_content(
        CSP_PAGE.format(
            "<input id='sans-label'>"
            "<p style='color:#000'>Voir <a href='#' style='color:#0000ee;text-decoration:none'>la fiche</a> ici.</p>"
        )
    )

    with pytest.raises(AssertionError) as failure:
        assert_accessible(page, context="a page made to fail")

    message = str(failure.value)
    assert "a page made to fail" in message
    assert "- label (critical): Form elements must have labels [1 node(s)] #sans-label" in message
    assert "link-in-text-block (serious)" in message


def test_the_check_passes_a_labelled_page(new_browser_page, assert_accessible):
    page = new_browser_page()
    page.set_content(
        CSP_PAGE.format(
            "<label for='avec-label'>Nom</label><input id='avec-label'>"
            "<p>Voir <a href='#' style='text-decoration:underline'>la fiche</a> ici.</p>"
        )
    )

    assert_accessible(page, context="a labelled page")
