"""Every text exists in Korean and English with the same placeholders, and every key the forms use exists."""

from __future__ import annotations

from bot.app import ROUTERS
from kernel.i18n import LOCALES, catalog, placeholders


def test_catalogs_have_the_same_keys_and_placeholders() -> None:
    ko, en = catalog("ko"), catalog("en")
    assert set(ko) == set(en)
    for key in ko:
        assert placeholders(ko[key]) == placeholders(en[key]), key


def test_every_form_field_has_texts_in_both_languages() -> None:
    for build in ROUTERS:
        router = build()
        for form in router.forms:
            for locale in LOCALES:
                texts = catalog(locale)
                assert f"title.{form.name}" in texts
                if form.fields[-1].refuse or any(f.refuse for f in form.fields):
                    assert f"refused.{form.name}" in texts
                for field in form.fields:
                    for prefix in ("ask", "label", "help"):
                        assert f"{prefix}.{form.name}.{field.name}" in texts, (locale, prefix, field.name)
                    for choice in field.choices:
                        assert choice.label in texts, (locale, choice.label)
                    assert field.parse is not None or field.choices or field.options, field.name
                    if field.options is not None and not field.optional:
                        assert f"empty.{form.name}.{field.name}" in texts, (locale, field.name)


def test_menu_and_command_texts_exist() -> None:
    for build in ROUTERS:
        router = build()
        for locale in LOCALES:
            texts = catalog(locale)
            for item in router.menu:
                assert item.label in texts
            for command in router.commands:
                assert command.describe is None or command.describe in texts
