import pytest

from directory_svc.config import ConfigError, Env, load_settings

BASE = {"MONGODB_URI": "mongodb://127.0.0.1:27017/", "DIRECTORY_KEYS_DIR": "/k"}


def test_defaults() -> None:
    settings = load_settings(BASE)
    assert (settings.port, settings.env, settings.db_name) == (8080, Env.PROD, "annuaire")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "MONGODB_URI"),
        ({"MONGODB_URI": "mongodb://x/"}, "DIRECTORY_KEYS_DIR"),
        ({"MONGODB_URI": "postgres://x"}, "MONGODB_URI"),
        ({**BASE, "DIRECTORY_PORT": "eighty"}, "DIRECTORY_PORT"),
        ({**BASE, "DIRECTORY_PORT": "70000"}, "DIRECTORY_PORT"),
        ({**BASE, "DIRECTORY_ENV": "staging"}, "DIRECTORY_ENV"),
        ({**BASE, "DIRECTORY_DB": "a.b"}, "DIRECTORY_DB"),
        ({**BASE, "DIRECTORY_DB_TIMEOUT": "0"}, "DIRECTORY_DB_TIMEOUT"),
        ({**BASE, "DIRECTORY_LOG_LEVEL": "loud"}, "DIRECTORY_LOG_LEVEL"),
        ({**BASE, "DIRECTORY_WRITE_ADAPTER": "magic"}, "DIRECTORY_WRITE_ADAPTER"),
    ],
)
def test_bad_settings_name_the_variable_in_one_line(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    message = str(caught.value)
    assert message.startswith(f"{variable}:")
    assert "\n" not in message


def test_keys_may_come_from_the_environment_but_not_from_both() -> None:
    env = {"MONGODB_URI": "mongodb://x/", "DIRECTORY_INDEX_KEY": "a", "DIRECTORY_ACTIVE_KEY": "k"}
    settings = load_settings(env)
    assert settings.keys_dir is None
    assert settings.key_env == {"DIRECTORY_INDEX_KEY": "a", "DIRECTORY_ACTIVE_KEY": "k"}
    with pytest.raises(ConfigError, match=r"^DIRECTORY_KEYS_DIR: set together"):
        load_settings({**env, "DIRECTORY_KEYS_DIR": "/k"})
