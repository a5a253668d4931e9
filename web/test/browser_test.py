"""The sprite page in a real browser: headless Chromium (driven through chromedriver by
Selenium) loads web/page from `gan serve --web`, and the test checks what a user would see.

- seed 42 on the page's canvas is, pixel for pixel, the picture `gan generate --seed 42` writes;
- 64 frames of interpolation finish;
- a file that is not ONNX, a discriminator, and a model with an operator no runtime knows each
  give a message naming the file, and the page keeps working afterwards.

    python3 web/test/browser_test.py --gan target/debug/gan [--screenshot shot.png]
    python3 web/test/browser_test.py --gan target/release/gan --speed G.onnx   # a benchmark

Needs: chromium and chromium-driver (Debian), selenium, pillow and onnx (pip), web/page/pkg built by
web/build.sh. Exits non-zero, with the reason, when a check fails.
"""

import argparse
import base64
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from selenium.webdriver.support.ui import WebDriverWait

PAGE = Path(__file__).resolve().parent.parent / "page"
CANVAS_PIXELS = """
const canvas = document.getElementById(arguments[0]);
const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
return [canvas.width, canvas.height, btoa(String.fromCharCode.apply(null, data))];
"""


def run(*command):
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(map(str, command))} failed:\n{done.stderr}")
    return done.stdout


def tiny_generator(gan, work, *flags, name="run"):
    """A barely trained 16 px DCGAN on the built-in shapes: generator and discriminator."""
    run(gan, "train", "--model", "dcgan", "--data", "shapes", "--image-size", "16",
        "--nz", "8", "--ngf", "8", "--ndf", "8", "--batch-size", "8", "--max-steps", "3",
        "--quiet", "--out", work / name, *flags)
    run(gan, "export", "--run", work / name, "--out", work / f"{name}-onnx")
    return work / f"{name}-onnx" / "generator.onnx", work / f"{name}-onnx" / "discriminator.onnx"


def unrunnable_model(work, generator):
    """A well-formed ONNX file that describes itself as `generator` does (same metadata, inputs
    and outputs) but whose one operator no runtime knows."""
    import onnx
    from onnx import TensorProto, helper
    graph = helper.make_graph(
        [helper.make_node("Dream", ["z"], ["image"], domain="com.example.nothing")],
        "unrunnable",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 8])],
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 16, 16])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.example.nothing", 1)])
    model.metadata_props.extend(onnx.load(generator).metadata_props)
    path = work / "dreamer.onnx"
    onnx.save(model, path)
    return path


def native_pixels(gan, model, seed, work, *flags):
    out = work / f"native-{seed}-{len(flags)}"
    run(gan, "generate", "--model", model, "--n", "1", "--seed", seed, "--each", out, *flags)
    (png,) = out.glob("*.png")
    image = Image.open(png).convert("RGBA")
    return image.width, image.height, image.tobytes()


class Server:
    """`gan serve --web web/page` on a free loopback port."""

    def __init__(self, gan, model):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [str(gan), "serve", "--model", str(model), "--web", str(PAGE),
             "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.url = f"http://127.0.0.1:{self.port}/"
        for _ in range(200):
            try:
                urllib.request.urlopen(self.url + "v1/models", timeout=1)
                return
            except OSError:
                if self.process.poll() is not None:
                    sys.exit(f"gan serve exited: {self.process.stderr.read()}")
                time.sleep(0.1)
        sys.exit("gan serve did not answer within 20 s")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def browser():
    options = Options()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--window-size=1100,1000"):
        options.add_argument(flag)
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(options=options, service=service)


def wait_for(driver, what, condition, seconds=60):
    try:
        return WebDriverWait(driver, seconds).until(lambda d: condition(d))
    except Exception:
        error = driver.find_element(By.ID, "error").text
        sys.exit(f"timed out waiting for {what}; the page says: {error!r}")


def pick(driver, path):
    driver.find_element(By.ID, "file").send_keys(str(path.resolve()))


def shown_error(driver):
    element = driver.find_element(By.ID, "error")
    return element.text if element.is_displayed() else ""


def check(condition, message):
    if not condition:
        sys.exit(f"FAILED: {message}")
    print(f"ok: {message}")


def load(driver, url, model):
    driver.get(url)
    wait_for(driver, "the runtime to start",
             lambda d: d.execute_script("return document.body.dataset.state") in ("ready", "error"))
    check(shown_error(driver) == "", "the page starts without an error")
    pick(driver, model)
    wait_for(driver, f"{model.name} to load",
             lambda d: d.find_element(By.ID, "model-info").get_attribute("data-name") == model.name
             and d.find_element(By.ID, "single").get_attribute("data-seed") == "42")


def play_64_frames(driver):
    driver.find_element(By.ID, "frames64").click()
    wait_for(driver, "64 frames",
             lambda d: d.execute_script("return document.body.dataset.frames") == "done", 300)
    return driver.find_element(By.ID, "frames-timing").text


def test(args, work):
    generator, discriminator = tiny_generator(args.gan, work)
    server = Server(args.gan, generator)
    driver = browser()
    try:
        load(driver, server.url, generator)
        width, height, pixels = driver.execute_script(CANVAS_PIXELS, "single")
        page = (width, height, base64.b64decode(pixels))
        native = native_pixels(args.gan, generator, 42, work)
        check(page[:2] == native[:2], f"seed 42 is {native[0]}×{native[1]} in the page too")
        differing = sum(a != b for a, b in zip(page[2], native[2]))
        check(differing == 0, f"seed 42 in the page equals gan generate --seed 42 "
                              f"({differing} of {len(native[2])} bytes differ)")

        frames = play_64_frames(driver)
        check(frames.startswith("64 frames"), f"64 frames of interpolation finish: {frames}")

        not_onnx = work / "notes.onnx"
        not_onnx.write_bytes(b"this is a text file, not a model\n" * 10)
        for bad, why in ((not_onnx, "a file that is not ONNX"),
                         (discriminator, "a discriminator"),
                         (unrunnable_model(work, generator), "a model the runtime cannot run")):
            pick(driver, bad)
            message = wait_for(driver, f"an error for {bad.name}", shown_error, 30)
            check(bad.name in message, f"{why} is refused with a message naming it: {message!r}")
        driver.find_element(By.ID, "seed").clear()
        driver.find_element(By.ID, "seed").send_keys("7")
        driver.find_element(By.ID, "go").click()
        wait_for(driver, "seed 7",
                 lambda d: d.find_element(By.ID, "single").get_attribute("data-seed") == "7")
        check(shown_error(driver) == "", "after the errors the loaded generator still works")

        # A conditional generator: its classes in a menu; the chosen class is what is drawn.
        conditional, _ = tiny_generator(args.gan, work, "--conditional", name="conditional")
        driver.find_element(By.ID, "seed").clear()
        driver.find_element(By.ID, "seed").send_keys("42")
        pick(driver, conditional)
        wait_for(driver, "the class menu",
                 lambda d: d.find_element(By.ID, "class-choice").is_displayed())
        options = [o.text for o in driver.find_elements(By.CSS_SELECTOR, "#class option")]
        check(options == ["disc", "square"], f"the class menu lists the classes: {options}")
        Select(driver.find_element(By.ID, "class")).select_by_visible_text("square")
        square = native_pixels(args.gan, conditional, 42, work, "--class", "square")

        def shows_square(d):
            _, _, drawn = d.execute_script(CANVAS_PIXELS, "single")
            return base64.b64decode(drawn) == square[2]
        wait_for(driver, "the square class", shows_square, 30)
        check(True, "class square, seed 42 in the page equals gan generate --class square")
        if args.screenshot:
            driver.save_screenshot(str(args.screenshot))
    finally:
        driver.quit()
        server.stop()


def speed(args, work):
    """ms per image at batch 1 in the browser: the 64-frame interpolation, twice (the first warms
    up), on the given generator."""
    server = Server(args.gan, args.speed)
    driver = browser()
    try:
        load(driver, server.url, args.speed)
        play_64_frames(driver)
        print(f"{args.speed}: {play_64_frames(driver)}")
        if args.screenshot:
            driver.save_screenshot(str(args.screenshot))
    finally:
        driver.quit()
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gan", type=Path, required=True, help="the gan binary")
    parser.add_argument("--speed", type=Path, help="time this generator instead of testing")
    parser.add_argument("--screenshot", type=Path, help="save the page as a PNG at the end")
    args = parser.parse_args()
    if not (PAGE / "pkg" / "gan_web_bg.wasm").is_file():
        sys.exit(f"{PAGE / 'pkg'} is not built: run bash web/build.sh first")
    with tempfile.TemporaryDirectory() as work:
        (speed if args.speed else test)(args, Path(work))


if __name__ == "__main__":
    main()
