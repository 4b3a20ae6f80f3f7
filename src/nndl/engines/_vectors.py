"""Sixteen numbers at a time, for the compiled engine's kernels.

Numba compiles a loop such as ``for h in range(n): z[h] += x * w[p, h]``
for any ``n``, so the machine code must test ``n``, check that ``z`` and
``w`` do not overlap, and handle a remainder -- on every pass.  With the
notebook's 30 hidden neurons that bookkeeping costs more than the
arithmetic.  Here a :class:`Vector` is sixteen consecutive numbers of one
array held in registers (one 64-byte AVX-512 register of float32, two of
float64; the compiler splits it where vectors are narrower), and each
operation below is one or a few machine instructions:

* :func:`load` / :func:`store` -- ``a[j:j+16]`` to and from a vector;
* :func:`fill` -- a number in every lane;
* :func:`fma` (``acc + x * v``), :func:`add`, :func:`sub`, :func:`mul`
  and :func:`reciprocal`, lane by lane;
* :func:`total` -- the sum of the sixteen lanes;
* :func:`exp` -- ``e^v`` in each lane, within three units in the last place
  of NumPy's, inf and 0 where NumPy's overflows and underflows;
* :func:`nonfinite` -- how many lanes are infinite or NaN.

Callers keep their arrays' last dimension a multiple of :data:`LANES`.
"""

from __future__ import annotations

import math
from typing import Any

from llvmlite import ir
from numba.core import cgutils, types
from numba.core.datamodel import models
from numba.extending import intrinsic, register_model

#: Numbers in a vector.
LANES = 16


class Vector(types.Type):
    """The Numba type of :data:`LANES` numbers of ``dtype``."""

    def __init__(self, dtype: types.Float) -> None:
        self.dtype = dtype
        super().__init__(name=f"Vector({dtype} x {LANES})")


@register_model(Vector)
class _VectorModel(models.PrimitiveModel):
    def __init__(self, dmm: Any, fe_type: Vector) -> None:
        super().__init__(dmm, fe_type, ir.VectorType(dmm.lookup(fe_type.dtype).get_value_type(), LANES))


def _address(context: Any, builder: Any, aryty: Any, ary: Any, index: Any, indexty: Any) -> Any:
    """A pointer to ``ary[index]`` (1-D), typed as a pointer to a vector."""
    array = context.make_array(aryty)(context, builder, ary)
    index = context.cast(builder, index, indexty, types.intp)
    item = cgutils.get_item_pointer(context, builder, aryty, array, [index])
    return builder.bitcast(item, context.get_data_type(Vector(aryty.dtype)).as_pointer())


def _splat(builder: Any, vty: Any, x: Any) -> Any:
    """A vector of type ``vty`` with ``x`` in every lane."""
    one = builder.insert_element(ir.Constant(vty, ir.Undefined), x, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(
        one, ir.Constant(vty, ir.Undefined), ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES)
    )


def _suffix(t: Any) -> str:
    """LLVM's name for a type in an intrinsic's name: ``v16f32``, ``i16``."""
    if isinstance(t, ir.VectorType):
        return f"v{t.count}{_suffix(t.element)}"
    if isinstance(t, ir.IntType):
        return f"i{t.width}"
    return {ir.FloatType: "f32", ir.DoubleType: "f64"}[type(t)]


def _call(builder: Any, name: str, overloads: list, args: list, fastmath: tuple = ()) -> Any:
    """Call LLVM's intrinsic ``name`` for the types ``overloads``."""
    full = ".".join([name, *(_suffix(t) for t in overloads)])
    result = overloads[0] if name != "llvm.vector.reduce.fadd" else overloads[0].element
    fnty = ir.FunctionType(result, [a.type for a in args])
    return builder.call(cgutils.get_or_insert_function(builder.module, fnty, full), args, fastmath=fastmath)


@intrinsic
def load(typingctx: Any, ary: Any, j: Any) -> Any:
    """``a[j:j+LANES]`` of the 1-D contiguous array ``a``."""
    sig = Vector(ary.dtype)(ary, j)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.load(_address(context, builder, ary, args[0], args[1], j), align=ary.dtype.bitwidth // 8)

    return sig, codegen


@intrinsic
def store(typingctx: Any, ary: Any, j: Any, vec: Any) -> Any:
    """``a[j:j+LANES] = vec``."""
    sig = types.none(ary, j, vec)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        builder.store(args[2], _address(context, builder, ary, args[0], args[1], j), align=ary.dtype.bitwidth // 8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def fma(typingctx: Any, acc: Any, x: Any, vec: Any) -> Any:
    """``acc + x * vec``, ``x`` a number or a vector; one rounding per lane."""
    sig = acc(acc, x, vec)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        a, s, v = args
        if not isinstance(x, Vector):
            s = _splat(builder, a.type, context.cast(builder, s, x, acc.dtype))
        return _call(builder, "llvm.fma", [a.type], [s, v, a])

    return sig, codegen


@intrinsic
def fill(typingctx: Any, like: Any, x: Any) -> Any:
    """A vector of the dtype of the array ``like`` with ``x`` in every lane."""
    sig = Vector(like.dtype)(like, x)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        vty = context.get_value_type(signature.return_type)
        return _splat(builder, vty, context.cast(builder, args[1], x, like.dtype))

    return sig, codegen


def _lanewise(name: str, doc: str) -> Any:
    """An intrinsic ``f(a, b)`` applying the floating-point instruction ``name`` lane by lane."""

    def lanes(typingctx: Any, a: Any, b: Any) -> Any:
        sig = a(a, b)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return getattr(builder, name)(args[0], args[1])

        return sig, codegen

    lanes.__doc__ = doc
    return intrinsic(lanes)


add = _lanewise("fadd", "``a + b``.")
sub = _lanewise("fsub", "``a - b``.")
mul = _lanewise("fmul", "``a * b``.")


@intrinsic
def reciprocal(typingctx: Any, a: Any) -> Any:
    """``1 / a``, correctly rounded."""
    sig = a(a)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.fdiv(_splat(builder, args[0].type, ir.Constant(args[0].type.element, 1.0)), args[0])

    return sig, codegen


@intrinsic
def total(typingctx: Any, a: Any) -> Any:
    """The sum of the lanes of ``a``."""
    sig = a.dtype(a)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        v = args[0]
        zero = ir.Constant(v.type.element, 0.0)
        return _call(builder, "llvm.vector.reduce.fadd", [v.type], [zero, v], fastmath=("reassoc",))

    return sig, codegen


@intrinsic
def nonfinite(typingctx: Any, a: Any) -> Any:
    """How many lanes of ``a`` are infinite or NaN."""
    sig = types.intp(a)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        v = args[0]
        size = _call(builder, "llvm.fabs", [v.type], [v])
        inf = _splat(builder, v.type, ir.Constant(v.type.element, math.inf))
        bad = builder.fcmp_unordered(">=", size, inf)  # true for inf and NaN
        mask = builder.bitcast(bad, ir.IntType(LANES))
        return builder.zext(_call(builder, "llvm.ctpop", [ir.IntType(LANES)], [mask]), ir.IntType(64))

    return sig, codegen


# e^v = 2^n e^r with n = round(v / ln 2) and r = v - n ln 2, |r| <= ln(2)/2;
# e^r by its Taylor series (degree 7 in float32, 13 in float64: the first
# term left out is below a tenth of a unit in the last place), n ln 2 in
# two parts so that r is exact, and 2^n as 2^(n // 2) 2^(n - n // 2), each
# factor put straight into the exponent bits, so that the result, not a
# factor, overflows to inf or underflows to 0 as NumPy's does.  v is first
# held to a range just wider than that where e^v is neither 0 nor inf
# (beyond it the answer is 0 or inf either way); NaN stays NaN.
_EXP: dict[int, dict[str, Any]] = {
    32: {"low": -104.0, "high": 89.0, "ln2": (0.693359375, -2.12194440e-4), "degree": 7, "bias": 127, "bits": 23},
    64: {
        "low": -746.0,
        "high": 710.0,
        "ln2": (0.693147180369123816490, 1.90821492927058770002e-10),
        "degree": 13,
        "bias": 1023,
        "bits": 52,
    },
}


@intrinsic
def exp(typingctx: Any, a: Any) -> Any:
    """``e^a`` lane by lane, within three units in the last place of NumPy's."""
    sig = a(a)
    k = _EXP[a.dtype.bitwidth]

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        v = args[0]
        vty = v.type

        def const(x: float) -> Any:
            return _splat(builder, vty, ir.Constant(vty.element, x))

        def fma_(x: Any, y: Any, z: Any) -> Any:
            return _call(builder, "llvm.fma", [vty], [x, y, z])

        low, high = const(k["low"]), const(k["high"])
        v = builder.select(builder.fcmp_ordered("<", v, low), low, v)
        v = builder.select(builder.fcmp_ordered(">", v, high), high, v)
        n = _call(builder, "llvm.rint", [vty], [builder.fmul(v, const(1 / math.log(2)))])
        minus_n = builder.fneg(n)
        r = fma_(minus_n, const(k["ln2"][0]), v)
        r = fma_(minus_n, const(k["ln2"][1]), r)
        p = const(1 / math.factorial(k["degree"]))
        for i in range(k["degree"] - 1, -1, -1):
            p = fma_(p, r, const(1 / math.factorial(i)))
        ity = ir.VectorType(ir.IntType(a.dtype.bitwidth), LANES)
        n = builder.select(builder.fcmp_ordered("ord", n, n), n, const(0.0))  # NaN -> 0, the rest whole numbers
        whole = builder.fptosi(n, ity)
        half = builder.ashr(whole, _splat(builder, ity, ir.Constant(ity.element, 1)))  # n // 2
        bias = _splat(builder, ity, ir.Constant(ity.element, k["bias"]))
        shift = _splat(builder, ity, ir.Constant(ity.element, k["bits"]))

        def power_of_two(m: Any) -> Any:  # 2^m for -bias < m <= bias
            return builder.bitcast(builder.shl(builder.add(m, bias), shift), vty)

        return builder.fmul(builder.fmul(p, power_of_two(half)), power_of_two(builder.sub(whole, half)))

    return sig, codegen
