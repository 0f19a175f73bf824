"""Regenerates ``common-passwords.txt`` (run: ``python -m services.netsugen_booking.accounts.data.generate``).

NIST SP 800-63B asks verifiers to refuse passwords found in lists of commonly used or breached
passwords. The list is shipped as data (nothing is downloaded at run time). It is built from the
passwords that top every published frequency list of leaked passwords (the RockYou leak and the
yearly "worst passwords" lists), the words they are made of, and the variations people apply to
them (a year or digits appended, a capital, an exclamation mark, keyboard walks, repeated
characters, digit runs, and Japanese romaji words). Lower-cased, one per line, sorted, unique.
"""

from __future__ import annotations

import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "common-passwords.txt"

TOP = """
123456 password 12345678 qwerty 123456789 12345 1234 111111 1234567 dragon 123123 baseball abc123
football monkey letmein 696969 shadow master 666666 qwertyuiop 123321 mustang 1234567890 michael
654321 superman 1qaz2wsx 7777777 121212 000000 qazwsx 123qwe killer trustno1 jordan jennifer zxcvbnm
asdfgh hunter buster soccer harley batman andrew tigger sunshine iloveyou 2000 charlie robert thomas
hockey ranger daniel starwars klaster 112233 george computer michelle jessica pepper 1111 zxcvbn
555555 11111111 131313 freedom 777777 pass maggie 159753 aaaaaa ginger princess joshua cheese amanda
summer love ashley nicole chelsea biteme matthew access yankees 987654321 dallas austin thunder
taylor matrix minecraft william corvette hello martin heather secret merlin diamond 1234qwer gfhjkm
hammer silver 222222 88888888 anthony justin test bailey q1w2e3r4t5 patrick internet scooter orange
11111 golfer cookie richard samantha bigdog guitar jackson whatever mickey chicken sparky snoopy
maverick phoenix camaro peanut morgan welcome falcon cowboy ferrari samsung andrea smokey steelers
joseph mercedes dakota arsenal eagles melissa boomer booboo spider nascar monster tigers yellow
xxxxxx 123123123 gateway marina diablo bulldog qwer1234 compaq purple hardcore banana junior hannah
123654 porsche lakers iceman money cowboys 987654 london tennis 999999 ncc1701 coffee scooby 0000
miller boston q1w2e3r4 fuckoff brandon yamaha chester mother forever johnny edward 333333 oliver
redsox player nikita knight fender barney midnight please brandy chicago badboy iwantu slayer rangers
charles angel flower bigdaddy rabbit wizard bigdick jasper enter rachel chris 7777 qwerty123 admin
admin123 administrator root toor passw0rd password1 password123 p@ssw0rd p@ssword abc12345 welcome1
welcome123 letmein1 iloveyou1 princess1 sunshine1 qwerty1 monkey1 dragon1 football1 baseball1
trustno1 000000000 1q2w3e4r 1q2w3e4r5t 1q2w3e 1qazxsw2 zaq12wsx zaq1zaq1 qazwsxedc asdfghjkl
asdfasdf qweasdzxc 147258369 123456a a123456 123abc abcdef abcd1234 aa123456 123456789a 12qwaszx
changeme default guest user login secret123 master123 hello123 test123 test1234 qwertyui
lovely babygirl loveme naruto pokemon gundam doraemon sakura tokyo osaka gunma maebashi takasaki
kiryu isesaki ota numata tatebayashi shibukawa fujioka tomioka annaka midori kusatsu ikaho minakami
netsugen sdgs kenmin yamada tanaka suzuki sato satou takahashi watanabe ito kobayashi nakamura
kato yoshida yamamoto sasaki yamaguchi matsumoto inoue kimura hayashi shimizu
""".split()

WORDS = """
password passwort motdepasse contrasena qwerty dragon monkey letmein shadow master sunshine iloveyou
princess football baseball soccer hockey welcome admin login secret freedom whatever trustno1 superman
batman starwars pokemon minecraft computer internet samsung google facebook twitter youtube apple
summer winter spring autumn monday friday january december love angel flower orange banana cherry
chocolate cookie coffee tiger lion eagle falcon dolphin butterfly hello charlie michael jessica
jennifer ashley daniel thomas robert jordan hunter ranger killer pepper ginger maggie buster tigger
sakura hikari yukiko akiko hiroshi takeshi kenji naoko yuki haruka keiko tomoko gunma tokyo osaka
kyoto japan nippon nihon doraemon naruto anpanman pikachu totoro ramen sushi tempura netsugen sdgs
office company school student teacher family mother father sister brother baby girl boy happy lucky
purple yellow silver golden diamond crystal rainbow thunder dream magic music guitar piano
""".split()

SUFFIXES = [
    "",
    "1",
    "12",
    "123",
    "1234",
    "12345",
    "123456",
    "!",
    "1!",
    "123!",
    "01",
    "007",
    "69",
    "99",
    "00",
    "11",
    "22",
    "77",
    "88",
    "2020",
    "2021",
    "2022",
    "2023",
    "2024",
    "2025",
    "2026",
    "1990",
    "1995",
    "2000",
    "2010",
    "@123",
    "#1",
    "?",
]

WALKS = [
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "1qaz2wsx3edc",
    "qazwsxedcrfv",
    "1q2w3e4r5t6y",
    "q1w2e3r4t5y6",
    "zaq12wsxcde3",
    "poiuytrewq",
    "lkjhgfdsa",
    "mnbvcxz",
    "0987654321",
    "qweasdzxc123",
    "1qazxsw23edc",
    "!qaz2wsx",
    "!qaz@wsx",
    "qwer1234qwer",
    "asdf1234",
    "zxcv1234",
    "qwertyuiop123",
    "asdfghjkl123",
]


def build() -> list[str]:
    out: set[str] = set(w.lower() for w in TOP)
    for word in WORDS:
        for suffix in SUFFIXES:
            out.add(f"{word}{suffix}")
            out.add(f"{word.capitalize()}{suffix}".lower())
        out.add(word + word)
        out.add(word[::-1])
        leet = word.replace("a", "@").replace("o", "0").replace("e", "3").replace("i", "1").replace("s", "$")
        out.add(leet)
        out.add(leet + "1")
        out.add(leet + "123")
    for walk in WALKS:
        for suffix in ("", "1", "!", "123"):
            out.add(walk + suffix)
    # Runs of one character and of digits, as people type them.
    for ch in "abcdefghijklmnopqrstuvwxyz0123456789!.*":
        for n in range(6, 21):
            out.add(ch * n)
    digits = "12345678901234567890"
    for start in range(10):
        for n in range(6, 17):
            out.add(digits[start : start + n])
    rev = "98765432109876543210"
    for start in range(10):
        for n in range(6, 17):
            out.add(rev[start : start + n])
    for a in range(100):
        for b in ("", "00", "11", "12", "123"):
            out.add(f"{a:02d}{a:02d}{a:02d}{b}")
    # Dates as digits (birthdays): ddmmyyyy and yyyymmdd for 1960-2010, first of each month.
    for year in range(1960, 2011):
        for month in range(1, 13):
            out.add(f"01{month:02d}{year}")
            out.add(f"{year}{month:02d}01")
    return sorted(p for p in out if p and len(p) <= 64)


def main() -> None:
    passwords = build()
    OUT.write_text("\n".join(passwords) + "\n", encoding="utf-8")
    sys.stdout.write(f"{len(passwords)} passwords written to {OUT}\n")


if __name__ == "__main__":
    main()
