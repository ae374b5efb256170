//! LSTM, GRU and RNN nodes.

use super::ctx::Ctx;
use crate::value::Value;
use crate::Result;

/// LSTM.
pub fn lstm(c: &Ctx) -> Result<Vec<Value>> {
    Err(c.err("not yet"))
}
/// GRU.
pub fn gru(c: &Ctx) -> Result<Vec<Value>> {
    Err(c.err("not yet"))
}
/// RNN.
pub fn rnn(c: &Ctx) -> Result<Vec<Value>> {
    Err(c.err("not yet"))
}
