"""Answer normalisation of the official VQA evaluation (``vqaEval.py`` of
GT-Vision-Lab/VQA), reimplemented to give the same strings, quirks included."""

import re

#: Punctuation that is removed, or replaced by a space (apostrophes, colons
#: and periods are handled separately or kept).
PUNCTUATION = (
    ';',
    '/',
    '[',
    ']',
    '"',
    '{',
    '}',
    '(',
    ')',
    '=',
    '+',
    '\\',
    '_',
    '-',
    '>',
    '<',
    '@',
    '`',
    ',',
    '?',
    '!',
)
NUMBER_WORDS = {
    'none': '0',
    'zero': '0',
    'one': '1',
    'two': '2',
    'three': '3',
    'four': '4',
    'five': '5',
    'six': '6',
    'seven': '7',
    'eight': '8',
    'nine': '9',
    'ten': '10',
}
ARTICLES = frozenset({'a', 'an', 'the'})

# Contractions written without their apostrophe, and how the evaluation
# restores them: "<written> <restored>" pairs.
_CONTRACTION_PAIRS = """
aint ain't  arent aren't  cant can't  couldve could've  couldnt couldn't  couldn'tve couldn't've
couldnt've couldn't've  didnt didn't  doesnt doesn't  dont don't  hadnt hadn't  hadnt've hadn't've
hadn'tve hadn't've  hasnt hasn't  havent haven't  hed he'd  hed've he'd've  he'dve he'd've  hes he's
howd how'd  howll how'll  hows how's  Id've I'd've  I'dve I'd've  Im I'm  Ive I've  isnt isn't  itd it'd
itd've it'd've  it'dve it'd've  itll it'll  let's let's  maam ma'am  mightnt mightn't
mightnt've mightn't've  mightn'tve mightn't've  mightve might've  mustnt mustn't  mustve must've
neednt needn't  notve not've  oclock o'clock  oughtnt oughtn't  ow's'at 'ow's'at  'ows'at 'ow's'at
'ow'sat 'ow's'at  shant shan't  shed've she'd've  she'dve she'd've  she's she's  shouldve should've
shouldnt shouldn't  shouldnt've shouldn't've  shouldn'tve shouldn't've  somebody'd somebodyd
somebodyd've somebody'd've  somebody'dve somebody'd've  somebodyll somebody'll  somebodys somebody's
someoned someone'd  someoned've someone'd've  someone'dve someone'd've  someonell someone'll
someones someone's  somethingd something'd  somethingd've something'd've  something'dve something'd've
somethingll something'll  thats that's  thered there'd  thered've there'd've  there'dve there'd've
therere there're  theres there's  theyd they'd  theyd've they'd've  they'dve they'd've  theyll they'll
theyre they're  theyve they've  twas 'twas  wasnt wasn't  wed've we'd've  we'dve we'd've  weve we've
werent weren't  whatll what'll  whatre what're  whats what's  whatve what've  whens when's
whered where'd  wheres where's  whereve where've  whod who'd  whod've who'd've  who'dve who'd've
wholl who'll  whos who's  whove who've  whyll why'll  whyre why're  whys why's  wont won't
wouldve would've  wouldnt wouldn't  wouldnt've wouldn't've  wouldn'tve wouldn't've  yall y'all
yall'll y'all'll  y'allll y'all'll  yall'd've y'all'd've  y'alld've y'all'd've  y'all'dve y'all'd've
youd you'd  youd've you'd've  you'dve you'd've  youll you'll  youre you're  youve you've
"""
_words = _CONTRACTION_PAIRS.split()
CONTRACTIONS = dict(zip(_words[::2], _words[1::2]))

_DIGIT_COMMA_DIGIT = re.compile(r'(\d)(,)(\d)')
# The evaluation's pattern reads "(?!<=\d)": a lookahead, not the lookbehind
# it looks like, so every period not followed by a digit goes.
_PERIOD = re.compile(r'(?!<=\d)(\.)(?!\d)')


def strip_whitespace(text: str) -> str:
    """Tabs and newlines become spaces; leading and trailing spaces go."""
    return text.replace('\n', ' ').replace('\t', ' ').strip()


def process_punctuation(text: str) -> str:
    """Remove punctuation, or replace it with a space when it stands inside a word.

    A mark is removed when it is next to a space anywhere in ``text``, or when
    ``text`` contains a digit-comma-digit group (``100,978`` -> ``100978``);
    otherwise it becomes a space. Periods not followed by a digit are removed
    (at most 32: the evaluation passes ``re.UNICODE`` where ``count`` goes).
    """
    out = text
    has_number_comma = _DIGIT_COMMA_DIGIT.search(text) is not None
    for mark in PUNCTUATION:
        if mark + ' ' in text or ' ' + mark in text or has_number_comma:
            out = out.replace(mark, '')
        else:
            out = out.replace(mark, ' ')
    return _PERIOD.sub('', out, count=int(re.UNICODE))


def process_digits_and_articles(text: str) -> str:
    """Lower-case; number words become digits; articles go; apostrophes are
    restored in contractions; words are joined by single spaces."""
    words = [NUMBER_WORDS.get(word, word) for word in text.lower().split()]
    return ' '.join(CONTRACTIONS.get(word, word) for word in words if word not in ARTICLES)


def normalize_answer(text: str) -> str:
    """The full normalisation the official evaluation applies to an answer."""
    return process_digits_and_articles(process_punctuation(text))
