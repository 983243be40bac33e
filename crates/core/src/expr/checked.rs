//! Integer arithmetic that fails on overflow. DataFusion's `+`, `-` and `*` wrap around on
//! integers (`9223372036854775807 + 1` is negative), in rows and in the constants the
//! optimizer folds; every user expression has them replaced by these functions, which
//! compute with Arrow's checked kernels and fail with an overflow error instead.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::Datum;
use datafusion::arrow::compute::kernels::numeric;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::type_coercion::binary::BinaryTypeCoercer;
use datafusion::logical_expr::{
    BinaryExpr, ColumnarValue, Expr, ExprSchemable, Operator, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility, cast,
};

/// The operation of a [`Checked`] function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Add,
    Subtract,
    Multiply,
}

/// `checked_add(a, b)` and its kin: `a op b` on integers of one type, an error on overflow.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Checked {
    op: Op,
    signature: Signature,
}

impl Checked {
    fn new(op: Op) -> Checked {
        Checked {
            op,
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

static ADD: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| Arc::new(ScalarUDF::from(Checked::new(Op::Add))));
static SUBTRACT: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| Arc::new(ScalarUDF::from(Checked::new(Op::Subtract))));
static MULTIPLY: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| Arc::new(ScalarUDF::from(Checked::new(Op::Multiply))));

/// The names of the checked functions (allowed in expressions, though no user can name
/// them: the parser does not know them).
pub const NAMES: [&str; 3] = ["checked_add", "checked_subtract", "checked_multiply"];

impl ScalarUDFImpl for Checked {
    fn name(&self) -> &str {
        match self.op {
            Op::Add => NAMES[0],
            Op::Subtract => NAMES[1],
            Op::Multiply => NAMES[2],
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types.first().cloned().unwrap_or(DataType::Int64))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [a, b] = args.args.as_slice() else {
            return datafusion::common::exec_err!("{} takes two arguments", self.name());
        };
        let scalars = matches!((a, b), (ColumnarValue::Scalar(_), ColumnarValue::Scalar(_)));
        let datum = |v: &ColumnarValue| -> Result<Box<dyn Datum>> {
            Ok(match v {
                ColumnarValue::Array(a) => Box::new(Arc::clone(a)),
                ColumnarValue::Scalar(s) => Box::new(s.to_scalar()?),
            })
        };
        let (a, b) = (datum(a)?, datum(b)?);
        let out = match self.op {
            Op::Add => numeric::add(a.as_ref(), b.as_ref()),
            Op::Subtract => numeric::sub(a.as_ref(), b.as_ref()),
            Op::Multiply => numeric::mul(a.as_ref(), b.as_ref()),
        }?;
        Ok(if scalars {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
        } else {
            ColumnarValue::Array(out)
        })
    }
}

/// `e` with every `+`, `-` and `*` of two integers replaced by its checked function (the
/// operands cast to the type DataFusion would compute in), over `schema`.
pub fn check_integer_arithmetic(e: Expr, schema: &DFSchema) -> Result<Expr> {
    e.transform_up(|x| {
        let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &x else {
            return Ok(Transformed::no(x));
        };
        let udf = match op {
            Operator::Plus => &*ADD,
            Operator::Minus => &*SUBTRACT,
            Operator::Multiply => &*MULTIPLY,
            _ => return Ok(Transformed::no(x)),
        };
        let (lt, rt) = (left.get_type(schema)?, right.get_type(schema)?);
        if !(lt.is_integer() && rt.is_integer()) {
            return Ok(Transformed::no(x));
        }
        let t = BinaryTypeCoercer::new(&lt, op, &rt).get_result_type()?;
        let side = |e: &Expr, from: &DataType| {
            if *from == t {
                e.clone()
            } else {
                cast(e.clone(), t.clone())
            }
        };
        Ok(Transformed::yes(udf.call(vec![side(left, &lt), side(right, &rt)])))
    })
    .map(|t| t.data)
}

/// `checked_*(a, b)` back to `a op b`, for SQL written for other engines (which check
/// overflow themselves).
pub fn uncheck(e: Expr) -> Transformed<Expr> {
    let Expr::ScalarFunction(f) = &e else {
        return Transformed::no(e);
    };
    let op = match f.func.name() {
        n if n == NAMES[0] => Operator::Plus,
        n if n == NAMES[1] => Operator::Minus,
        n if n == NAMES[2] => Operator::Multiply,
        _ => return Transformed::no(e),
    };
    match f.args.as_slice() {
        [a, b] => Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
            Box::new(a.clone()),
            op,
            Box::new(b.clone()),
        ))),
        _ => Transformed::no(e),
    }
}
