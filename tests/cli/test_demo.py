"""The demo page, driven in a real headless Chromium: each tab takes an upload and shows its result.

Screenshots of each tab are kept in ``work_dirs/demo_screenshots/`` (or
``$BLIP_DEMO_SCREENSHOTS``). The browser is Debian's ``chromium`` with its
``chromium-driver``; ``.ci/run`` installs them where apt-get is available.
"""

import os
import shutil
import socket
import warnings
from pathlib import Path

import pytest

from blip.cli import demo

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / 'tests/data/configs'
DEMO = {p.stem: str(p) for p in (REPO / 'demo').glob('*.png')}
SCREENSHOTS = Path(os.environ.get('BLIP_DEMO_SCREENSHOTS', REPO / 'work_dirs/demo_screenshots'))
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
CHROMEDRIVER = shutil.which('chromedriver')
needs_chromium = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="no Chromium here: the demo's browser test drives Debian's chromium and chromium-driver "
    '(apt-get install -y chromium chromium-driver; .ci/run installs them where apt-get is available)',
)


def test_models_are_names_or_configs_each_with_an_optional_checkpoint():
    specs = demo.model_specs(['blip-tiny_shapes_caption', 'my.pth', 'configs/x.py', 'blip-tiny_shapes_vqa'])
    assert specs == [
        ('blip-tiny_shapes_caption', 'my.pth'),
        ('configs/x.py', None),
        ('blip-tiny_shapes_vqa', None),
    ]
    with pytest.raises(ValueError, match='a.pth: weights, but no model before it takes them'):
        demo.model_specs(['a.pth'])
    with pytest.raises(ValueError, match="unknown model 'blip-tiny_shapes_captoin'.*did you mean"):
        demo.model_specs(['blip-tiny_shapes_caption', 'blip-tiny_shapes_captoin'])


def test_a_mistake_on_the_command_line_is_one_line():
    with pytest.raises(SystemExit, match=r"^error: unknown model 'blip-tiny_shapes_captoin'.*did you mean"):
        demo.main(['blip-tiny_shapes_captoin'])
    with pytest.raises(SystemExit, match='a second Caption model; the demo shows one model per task'):
        demo.main(['blip-tiny_shapes_caption', str(CONFIGS / 'tiny_caption.py')])


@pytest.fixture(scope='module')
def inferencers():
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        words = ['blip-tiny_shapes_caption'] + [
            str(CONFIGS / f'tiny_{task}.py') for task in ('vqa', 'retrieval', 'nlvr', 'refcoco')
        ]
        return demo.load_inferencers(demo.model_specs(words))


def test_every_task_has_its_tab_and_random_weights_are_said(inferencers):
    assert set(inferencers) == set(demo.TASKS)
    assert 'weights blip-tiny_shapes_caption-' in inferencers['BlipCaption'][1]
    assert '**random weights**' in inferencers['BlipVQA'][1]


@pytest.fixture(scope='module')
def page(inferencers):
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    app = demo.build_demo(inferencers)
    demo.launch(app, '127.0.0.1', port, prevent_thread_lock=True, quiet=True)
    yield f'http://127.0.0.1:{port}/'
    app.close()


@pytest.fixture(scope='module')
def browser(page):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--window-size=1280,1000'):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.get(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def wait(driver, condition, timeout: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def use_tab(driver, title: str) -> None:
    from selenium.webdriver.common.by import By

    tab = wait(
        driver, lambda d: d.find_element(By.XPATH, f"//button[@role='tab'][normalize-space()='{title}']")
    )
    tab.click()


def upload(driver, elem_id: str, *paths: str) -> None:
    from selenium.webdriver.common.by import By

    field = wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, f'#{elem_id} input[type=file]'))
    field.send_keys('\n'.join(paths))
    # The upload is done when the preview (image) or the file list (gallery) shows.
    wait(
        driver,
        lambda d: d.find_elements(By.CSS_SELECTOR, f'#{elem_id} img, #{elem_id} table, #{elem_id} .file'),
    )


def type_text(driver, elem_id: str, text: str) -> None:
    from selenium.webdriver.common.by import By

    field = driver.find_element(By.CSS_SELECTOR, f'#{elem_id} textarea')
    field.clear()
    field.send_keys(text)


def screenshot(driver, name: str) -> None:
    """The whole page down to its lowest element, however tall the tab."""
    bottom = driver.execute_script(
        'return Math.max(...Array.from(document.querySelectorAll("body *"), '
        'e => e.getBoundingClientRect().bottom + window.scrollY))'
    )
    metrics = dict(width=1280, height=int(bottom) + 16, deviceScaleFactor=1, mobile=False)
    driver.execute_cdp_cmd('Emulation.setDeviceMetricsOverride', metrics)
    driver.execute_script('window.scrollTo(0, 0)')
    driver.save_screenshot(str(SCREENSHOTS / f'{name}.png'))
    driver.execute_cdp_cmd('Emulation.clearDeviceMetricsOverride', {})


def submit_and_read(driver, name: str) -> str:
    """Press the section's button; the result text once it shows (and its picture)."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, f'#{name}-submit').click()
    result = wait(
        driver, lambda d: d.find_element(By.CSS_SELECTOR, f'#{name}-result textarea').get_attribute('value')
    )
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f'#{name}-picture img'))
    return result


@needs_chromium
def test_caption_tab(browser, inferencers):
    use_tab(browser, 'Caption')
    upload(browser, 'caption-image', DEMO['large-blue-circle'])
    assert submit_and_read(browser, 'caption') == 'there is a large blue circle'
    screenshot(browser, 'caption')


@needs_chromium
def test_question_answering_tab(browser, inferencers):
    use_tab(browser, 'Question answering')
    upload(browser, 'vqa-image', DEMO['large-green-square'])
    type_text(browser, 'vqa-question', 'what colour is the square?')
    (expected,) = inferencers['BlipVQA'][0](DEMO['large-green-square'], 'what colour is the square?')
    assert submit_and_read(browser, 'vqa') == expected['pred_answer']
    screenshot(browser, 'vqa')


@needs_chromium
def test_retrieval_tab_both_directions(browser, inferencers):
    use_tab(browser, 'Retrieval')
    gallery = sorted(DEMO.values())
    upload(browser, 't2i-gallery', *gallery)
    ranking = submit_and_read(browser, 't2i').splitlines()
    (expected,) = inferencers['BlipRetrieval'][0]('a blue circle', gallery=gallery, topk=4, mode='t2i')
    assert [line.split(' ')[1] for line in ranking] == [Path(m['image']).name for m in expected['matches']]

    upload(browser, 'i2t-image', DEMO['large-blue-circle'])
    ranking = submit_and_read(browser, 'i2t').splitlines()
    assert sorted(line.split(' (')[0].split('. ', 1)[1] for line in ranking) == sorted(
        demo.EXAMPLE_TEXTS.split('\n')
    )
    screenshot(browser, 'retrieval')


@needs_chromium
def test_nlvr_tab(browser, inferencers):
    use_tab(browser, 'NLVR2')
    upload(browser, 'nlvr-left', DEMO['large-blue-circle'])
    upload(browser, 'nlvr-right', DEMO['large-green-square'])
    verdict = submit_and_read(browser, 'nlvr')
    pair = (DEMO['large-blue-circle'], DEMO['large-green-square'])
    (expected,) = inferencers['BlipNLVR'][0](pair, 'there is a circle in the left image')
    assert verdict == f'{expected["pred_class"]} (p = {expected["pred_score"]:.3f})'
    screenshot(browser, 'nlvr')


@needs_chromium
def test_grounding_tab(browser, inferencers):
    use_tab(browser, 'Grounding')
    upload(browser, 'grounding-image', DEMO['small-blue-triangle_large-green-circle_large-red-square'])
    box = submit_and_read(browser, 'grounding')
    image = DEMO['small-blue-triangle_large-green-circle_large-red-square']
    (expected,) = inferencers['BlipGrounding'][0](image, 'the blue circle')
    assert box == '[' + ', '.join(f'{v:.0f}' for v in expected['pred_bboxes'][0]) + ']'
    screenshot(browser, 'grounding')


@needs_chromium
def test_a_missing_image_shows_an_error_on_the_page(browser, page):
    from selenium.webdriver.common.by import By

    browser.get(page)  # a fresh page: nothing uploaded
    use_tab(browser, 'Caption')
    browser.find_element(By.CSS_SELECTOR, '#caption-submit').click()
    wait(browser, lambda d: 'give an image' in d.find_element(By.TAG_NAME, 'body').text)
