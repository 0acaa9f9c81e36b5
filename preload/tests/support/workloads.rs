//! The real programs that the preload is tried with, shared by the tests
//! (`tests/programs.rs`: the same output with and without the preload) and the benchmark
//! (`benches/programs.rs`: time and peak RSS under glibc's malloc and under the preload).
//! Each [`Workload`] names the program that must be installed and builds the command that
//! runs it in a given (empty) directory, writing the files it needs there first.
//!
//! Only `std`: both targets include this file as a module.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// One program run: what it is called, what must be installed, and how to run it.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// A short name, for reports and scratch directories.
    pub name: &'static str,
    /// The program that must be on `PATH` (otherwise the workload is skipped).
    pub program: &'static str,
    /// Writes the workload's input files into the directory and returns the command, to be
    /// run with that directory as its current directory. The command starts clean (no
    /// `LD_PRELOAD` or `MEMALLOC_*` variables): the caller adds the preload.
    pub command: fn(&Path) -> Command,
}

/// Every workload, in the order of the reports.
pub const ALL: [Workload; 7] = [PYTHON3, SQLITE3, GCC, GIT, PERL, GAWK, SORT];

/// A command that starts with none of this library's variables set.
pub fn clean_command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for var in ["LD_PRELOAD", "MEMALLOC_POLICY", "MEMALLOC_STATS", "MEMALLOC_TRACE"] {
        cmd.env_remove(var);
    }
    cmd
}

/// The path of `program` if it is installed (on `PATH`); otherwise prints a notice, so that
/// the caller can skip.
pub fn installed(program: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        println!("SKIPPED: {program} is not installed");
    }
    found
}

/// Dict, list and string churn, 8 threads, and a multiprocessing pool that forks.
pub const PYTHON_SCRIPT: &str = r#"
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

/// Inserts, an index, joins, updates and deletes.
pub const SQL_SCRIPT: &str = "
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

/// A small C program for gcc to compile, link and run.
pub const C_PROGRAM: &str = r#"
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

/// Commits with fixed names and dates (so that hashes repeat), `git log -p`, `git gc`.
pub const GIT_SCRIPT: &str = r#"
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

/// [`GIT_SCRIPT`] under `sh`, with the variables that make git deterministic and independent
/// of the user.
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

/// Hash, array and string churn, and a sort.
pub const PERL_SCRIPT: &str = r#"
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

/// Associative arrays and string building in awk.
pub const AWK_SCRIPT: &str = r#"
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

/// About 4 MB of pseudo-random lines, the same every time.
pub fn sort_input() -> String {
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

/// python3: [`PYTHON_SCRIPT`].
pub const PYTHON3: Workload = Workload { name: "python3", program: "python3", command: python3_command };

fn python3_command(dir: &Path) -> Command {
    fs::write(dir.join("churn.py"), PYTHON_SCRIPT).expect("write the script");
    let mut cmd = clean_command("python3");
    cmd.arg("churn.py");
    cmd
}

/// sqlite3 on a new database file: [`SQL_SCRIPT`].
pub const SQLITE3: Workload = Workload { name: "sqlite3", program: "sqlite3", command: sqlite3_command };

fn sqlite3_command(dir: &Path) -> Command {
    fs::write(dir.join("work.sql"), SQL_SCRIPT).expect("write the SQL");
    let mut cmd = clean_command("sqlite3");
    cmd.args(["db.sqlite", ".read work.sql"]);
    cmd
}

/// gcc compiles and links [`C_PROGRAM`], which then runs (under the same `LD_PRELOAD`).
pub const GCC: Workload = Workload { name: "gcc", program: "gcc", command: gcc_command };

fn gcc_command(dir: &Path) -> Command {
    fs::write(dir.join("prog.c"), C_PROGRAM).expect("write the program");
    let mut cmd = clean_command("/bin/sh");
    cmd.args(["-c", "gcc -O2 -Wall -o prog prog.c && ./prog"]);
    cmd
}

/// git, driven by a shell: [`GIT_SCRIPT`].
pub const GIT: Workload = Workload { name: "git", program: "git", command: git_command };

/// perl: [`PERL_SCRIPT`].
pub const PERL: Workload = Workload { name: "perl", program: "perl", command: perl_command };

fn perl_command(_: &Path) -> Command {
    let mut cmd = clean_command("perl");
    cmd.args(["-e", PERL_SCRIPT]);
    cmd
}

/// gawk: [`AWK_SCRIPT`].
pub const GAWK: Workload = Workload { name: "gawk", program: "gawk", command: gawk_command };

fn gawk_command(_: &Path) -> Command {
    let mut cmd = clean_command("gawk");
    cmd.arg(AWK_SCRIPT);
    cmd
}

/// sort, two threads and a small buffer (so temporary files and merges), on [`sort_input`].
pub const SORT: Workload = Workload { name: "sort", program: "sort", command: sort_command };

fn sort_command(dir: &Path) -> Command {
    static INPUT: OnceLock<String> = OnceLock::new();
    fs::write(dir.join("input.txt"), INPUT.get_or_init(sort_input)).expect("write the input");
    let mut cmd = clean_command("sort");
    cmd.args(["--parallel=2", "-S", "1M", "-T", "."]).arg("input.txt").env("LC_ALL", "C");
    cmd
}
