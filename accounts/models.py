from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """Staff member using the back office (marketer, data steward, viewer)."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
