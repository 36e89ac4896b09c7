"""Class names of the built-in data sets, saved with a run for `jnn.load_run`."""

# Fashion-MNIST's label order, as its authors publish it.
_FASHION = (
    *("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat"),
    *("Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
)
_DIGITS = tuple(str(d) for d in range(10))
CLASS_NAMES = {"digits": _DIGITS, "mnist": _DIGITS, "fashion_mnist": _FASHION}


def class_names(source: str) -> tuple[str, ...] | None:
    """The names of classes 0, 1, ... of data source `source`, or None.

    Example:
      >>> class_names("fashion_mnist")[9], class_names("moons")
      ('Ankle boot', None)
    """
    return CLASS_NAMES.get(source)
