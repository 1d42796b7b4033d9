"""The delta recursion (part: backprop).

Layers are numbered as in the notes: params["W1"] is W(1), cache["z1"] is z(1) and
cache["a0"] is the input X. delta(l) = dL/dz(l) has the shape of z(l): (n_l, m).
"""
from activations import relu_prime
from softmax_ce import output_delta
from updates import layer_gradients


def hidden_delta(W_next, delta_next, z):
    """One step back:  delta(l) = (W(l+1))^T delta(l+1)  (*)  f'(z(l)),  with f = ReLU.

    Shapes: W_next (n_{l+1}, n_l), delta_next (n_{l+1}, m), z (n_l, m); returns (n_l, m).
    Hint: a matrix product, then an element-wise product with relu_prime(z).
    """
    ### BEGIN SOLUTION
    return (W_next.T @ delta_next) * relu_prime(z)
    ### END SOLUTION


def backward(params, cache, y):
    """Backpropagation: the gradient of the mean loss with respect to every W(l) and b(l).

    params: {"W1", "b1", ..., "WL", "bL"}; cache: {"a0", "z1", "a1", ..., "zL", "aL"} from
    forward(); y: one-hot (n_L, m). Returns grads with the keys of params, grads["Wl"] the
    shape of params["Wl"]. Start from delta(L) = output_delta(a(L), y), then for l = L..1:
    dW(l), db(l) = layer_gradients(delta(l), a(l-1)) and, while l > 1,
    delta(l-1) = hidden_delta(W(l), delta(l), z(l-1)).
    Hint: L = len(params) // 2; build keys with f"W{l}".
    """
    ### BEGIN SOLUTION
    L = len(params) // 2
    grads = {}
    delta = output_delta(cache[f"a{L}"], y)
    for l in range(L, 0, -1):
        grads[f"W{l}"], grads[f"b{l}"] = layer_gradients(delta, cache[f"a{l - 1}"])
        if l > 1:
            delta = hidden_delta(params[f"W{l}"], delta, cache[f"z{l - 1}"])
    return grads
    ### END SOLUTION
