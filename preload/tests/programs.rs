//! Real programs under `libmemalloc_preload.so`: each runs once without it and once under
//! every policy, and must print the same stdout and exit the same way (and, preloaded,
//! print the `MEMALLOC_STATS` summary: the preload was active). A program that is not
//! installed is skipped with a notice; CI installs them all.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;

use support::{clean_command, installed, same_with_and_without};

/// Dict, list and string churn, 8 threads, and a multiprocessing pool that forks.
const PYTHON: &str = r#"
import multiprocessing
import threading

def churn(seed, n):
    table, total = {}, 0
    for i in range(n):
        table["key%d" % ((i * seed) % 5000)] = [i] * (i % 17 + 1) + [str(i) * (i % 5 + 1)]
        if i % 3 == 0:
            table.pop("key%d" % ((i * 7) % 5000), None)
        total += len(table)
    text = "".join(sorted(table)[:200])
    return total, len(text), sum(len(v) for v in table.values())

def work(seed):
    return churn(seed, 10000)

if __name__ == "__main__":
    print(churn(3, 40000))
    results = [None] * 8
    def run(i):
        results[i] = churn(i + 1, 10000)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(results)
    with multiprocessing.get_context("fork").Pool(4) as pool:
        print(pool.map(work, range(8)))
    big = [bytes(range(256)) * (i % 64 + 1) for i in range(5000)]
    print(sum(map(len, big)))
    del big
    blob = b""
    for i in range(300):
        blob += bytes([i % 256]) * 1000
    print(len(blob), blob.count(b"\x07"))
"#;

#[test]
fn python3_runs_the_same() {
    let Some(python) = installed("python3") else { return };
    same_with_and_without("python3", |dir| {
        fs::write(dir.join("churn.py"), PYTHON).expect("write the script");
        let mut cmd = clean_command(&python);
        cmd.arg("churn.py");
        cmd
    });
}

/// Inserts, an index, joins, updates and deletes.
const SQL: &str = "
create table t(id integer primary key, k integer, v text);
with recursive c(x) as (select 1 union all select x + 1 from c where x < 20000)
  insert into t select x, (x * 7919) % 1000, printf('v%d-', x * x % 100003) || replace(hex(zeroblob(x % 60)), '0', 'ab') from c;
create index t_k on t(k);
create table u(k integer primary key, name text);
with recursive c(x) as (select 0 union all select x + 1 from c where x < 999)
  insert into u select x, 'name' || x from c;
select count(*), sum(length(v)) from t;
select u.name, count(*), max(t.id) from t join u on t.k = u.k group by u.name order by count(*) desc, u.name limit 5;
select k, length(group_concat(id)) from t where k < 5 group by k;
update t set v = v || v where id % 3 = 0;
delete from t where id % 5 = 0;
select count(*), sum(length(v)), min(v), max(v) from t;
select a.k, count(*) from t a join t b on a.k = b.k and a.id < b.id where a.k < 20 group by a.k order by a.k limit 5;
";

#[test]
fn sqlite3_runs_the_same() {
    let Some(sqlite) = installed("sqlite3") else { return };
    same_with_and_without("sqlite3", |dir| {
        fs::write(dir.join("work.sql"), SQL).expect("write the SQL");
        let mut cmd = clean_command(&sqlite);
        cmd.args(["db.sqlite", ".read work.sql"]);
        cmd
    });
}

/// A small C program for gcc to compile, link and run.
const C_PROGRAM: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare(const void *a, const void *b) {
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return (x > y) - (x < y);
}

int main(void) {
    enum { N = 100000 };
    unsigned *v = malloc(N * sizeof *v), seed = 1;
    for (int i = 0; i < N; i++) v[i] = seed = seed * 1103515245u + 12345u;
    qsort(v, N, sizeof *v, compare);
    char **words = calloc(1000, sizeof *words);
    size_t letters = 0;
    for (int i = 0; i < 1000; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "word%u", v[i * 100] % 9973);
        words[i] = strdup(buf);
        letters += strlen(words[i]);
    }
    printf("%u %u %u %zu\n", v[0], v[N / 2], v[N - 1], letters);
    for (int i = 0; i < 1000; i++) free(words[i]);
    free(words);
    free(v);
    return 0;
}
"#;

#[test]
fn gcc_compiles_and_runs_the_same() {
    let Some(gcc) = installed("gcc") else { return };
    same_with_and_without("gcc", |dir| {
        fs::write(dir.join("prog.c"), C_PROGRAM).expect("write the program");
        let mut cmd = clean_command("/bin/sh");
        cmd.arg("-c").arg(format!("'{}' -O2 -Wall -o prog prog.c && ./prog", gcc.display()));
        cmd
    });
}

/// Commits with fixed names and dates (so that hashes repeat), `git log -p`, `git gc`.
const GIT_SCRIPT: &str = r#"
set -e
git init -q -b main repo
cd repo
i=1
while [ $i -le 12 ]; do
    seq 1 $((i * 40)) | sed "s/^/line $i: /" > "file$((i % 4)).txt"
    git add -A
    git commit -q -m "commit $i"
    i=$((i + 1))
done
git log -p --stat
git gc -q
git log --oneline | wc -l
git rev-parse HEAD
"#;

/// `command` with the variables that make git deterministic and independent of the user.
fn git_command(dir: &Path) -> Command {
    let mut cmd = clean_command("/bin/sh");
    cmd.args(["-c", GIT_SCRIPT])
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_AUTHOR_DATE", "2020-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2020-01-01T00:00:00Z")
        .env("GIT_PAGER", "cat");
    cmd
}

#[test]
fn git_runs_the_same() {
    if installed("git").is_none() {
        return;
    }
    same_with_and_without("git", git_command);
}

/// Hash, array and string churn, and a sort.
const PERL: &str = r#"
my (%h, @a, $s);
for my $i (1 .. 50000) {
    $h{"k" . ($i * 7 % 20011)} .= "x" x ($i % 13);
    push @a, [$i, "s$i"] if $i % 3;
    delete $h{"k" . ($i % 20011)} if $i % 5 == 0;
    $s .= chr(65 + $i % 26) if $i % 7 == 0;
}
my $t = 0;
$t += length($h{$_}) for keys %h;
print scalar(keys %h), " $t ", scalar(@a), " ", length($s), "\n";
my @sorted = sort { $a->[1] cmp $b->[1] } @a;
print "$sorted[0][1] $sorted[-1][1]\n";
print join(",", (map { length } split /A/, $s)[0 .. 5]), "\n";
"#;

#[test]
fn perl_runs_the_same() {
    let Some(perl) = installed("perl") else { return };
    same_with_and_without("perl", |_| {
        let mut cmd = clean_command(&perl);
        cmd.args(["-e", PERL]);
        cmd
    });
}

/// Associative arrays and string building in awk.
const AWK: &str = r#"
BEGIN {
    for (i = 1; i <= 100000; i++) {
        key = "k" (i * 7 % 20011)
        h[key] = h[key] sprintf("%d,", i % 13)
        if (i % 5 == 0) delete h["k" (i % 20011)]
    }
    n = 0; total = 0
    for (k in h) { n++; total += length(h[k]) }
    print n, total
}
"#;

#[test]
fn gawk_runs_the_same() {
    let Some(gawk) = installed("gawk") else { return };
    same_with_and_without("gawk", |_| {
        let mut cmd = clean_command(&gawk);
        cmd.arg(AWK);
        cmd
    });
}

/// About 4 MB of pseudo-random lines, the same every time.
fn sort_input() -> String {
    let mut seed = 42u64;
    let mut text = String::with_capacity(4 << 20);
    while text.len() < 4 << 20 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let len = 4 + (seed >> 59) as usize;
        for k in 0..len {
            text.push(char::from(b'a' + ((seed >> (k * 4 % 60)) & 15) as u8));
        }
        text.push(' ');
        text.push_str(&(seed >> 40).to_string());
        text.push('\n');
    }
    text
}

#[test]
fn sort_runs_the_same() {
    let Some(sort) = installed("sort") else { return };
    let input = sort_input();
    same_with_and_without("sort", |dir| {
        fs::write(dir.join("input.txt"), &input).expect("write the input");
        let mut cmd = clean_command(&sort);
        cmd.args(["--parallel=2", "-S", "1M", "-T", "."]).arg("input.txt").env("LC_ALL", "C");
        cmd
    });
}
