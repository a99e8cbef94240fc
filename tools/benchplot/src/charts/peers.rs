use super::*;
pub fn draw<T>(_: &[T]) -> Result<Vec<Svg>, Skip> {
    Err(Skip::NoData("todo"))
}
