"""Return objects whose == is always True (and that claim to be close to anything).
base: stubs
joins: activations
parts: activations
expect: not an array of numbers
"""


class Liar:
    def __eq__(self, other):
        return True

    __le__ = __ge__ = __lt__ = __gt__ = __eq__

    def __abs__(self):
        return 0.0

    def __sub__(self, other):
        return 0.0

    __rsub__ = __sub__

    def __bool__(self):
        return True


def relu(z):
    return Liar()


relu_prime = sigmoid = sigmoid_prime = relu
