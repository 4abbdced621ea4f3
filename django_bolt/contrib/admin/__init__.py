"""django_bolt's models in the Django admin (registered by ``django_bolt.admin``)."""
