//! `board/focus-board.json`.

use crate::error::Result;
use crate::model::Board;
use crate::store::{ReadTxn, WriteTxn};
use crate::time;

/// The board, or a default one in memory when the file is missing (reading
/// never writes). A board named after the legacy product shows under the
/// current name.
pub fn load(txn: &ReadTxn) -> Result<Board> {
    let mut b = txn
        .read_json::<Board>(&txn.layout().board())?
        .unwrap_or_else(|| Board::new(&time::now()));
    b.normalise_name();
    Ok(b)
}

pub fn save(txn: &WriteTxn, board: &Board) -> Result<()> {
    txn.put_json(&txn.layout().board(), board)
}
