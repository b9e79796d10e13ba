module charter.dev/generated/go

go 1.23
