# The R side of TestMannWhitneyMatchesR (mannwhitney_test.go): prints R's
# wilcox.test estimate, interval, p-value and W for each case, to 17
# significant digits. Run with Rscript; the numbers in rReference came from
# R 4.2.2 (Debian's r-base-core).
x <- c(41, 36, 12, 18, 28, 23, 19, 8, 7, 16, 11, 14, 18, 14, 34, 6, 30, 11, 1, 11, 4, 32, 23, 45, 115, 37)
y <- c(39, 9, 16, 78, 35, 66, 122, 89, 110, 44, 28, 65, 22, 59, 23, 31, 44, 21, 9, 45, 168, 73, 76, 118, 84, 85)
stopifnot(all.equal(x, with(airquality, Ozone[Month == 5 & !is.na(Ozone)])),
          all.equal(y, with(airquality, Ozone[Month == 8 & !is.na(Ozone)])))
cases <- list(
  list("airquality 98%", x, y, 0.98),
  list("permeability", c(0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46), c(1.15, 0.88, 0.90, 0.74, 1.21), 0.98),
  list("kayenta", c(10, 20, 30, 40), c(1, 2, 3, 4), 0.95),
  list("one vs two", c(5), c(1, 2), 0.98),
  list("three vs one", c(1, 2, 3), c(2), 0.98),
  list("constant canary", c(3, 3, 3, 3), c(1, 2, 3, 4, 5), 0.98),
  list("heavy ties", c(1, 1, 2, 2, 3, 3, 3), c(2, 2, 3, 3, 4, 4, 4, 5), 0.98),
  list("one vs 59", c(1), 2:60, 0.95),
  list("latency", c(100.5, 102.25, 99.75, 101, 150.125, 98.5, 103, 100), c(100, 101.5, 99, 100.25, 100.75, 99.5, 101, 100.5), 0.98),
  list("shifted", c(12.1, 13.4, 11.8, 14.2, 12.9, 13.7, 12.5, 14.8, 13.1, 12.2, 13.9, 14.4),
       c(10.2, 9.8, 11.1, 10.7, 9.5, 10.9, 11.4, 10.1, 10.4, 9.9, 11.0, 10.6), 0.98)
)
for (c in cases) {
  r <- suppressWarnings(wilcox.test(c[[2]], c[[3]], conf.int = TRUE, exact = FALSE, conf.level = c[[4]]))
  cat(sprintf("%s: est=%.17g lo=%.17g hi=%.17g p=%.17g W=%.17g\n", c[[1]], r$estimate, r$conf.int[1], r$conf.int[2], r$p.value, r$statistic))
}
