host "a" {
provider="sim"
  count    = 2
labels = {a="b"}
}
