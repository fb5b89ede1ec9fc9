/*
 * Motcua — personal signing in the leader's browser (ký số cá nhân, bước 2 của ký hai bước).
 *
 * The server never holds a person's key (DESIGN §7). It prepared the PDF and the bytes to sign (the DER-encoded CMS
 * signed attributes, GET /api/signatures/{id} → data_to_sign, base64); this script, in the leader's own browser:
 *
 *   1. reads the leader's PKCS#12 key file (chosen from their own disk) and opens it with their passphrase —
 *      parsed locally with pkijs + WebCrypto (PBES2/PBKDF2/AES-CBC, HMAC integrity); nothing of it is sent;
 *   2. checks that the certificate in the file is the one the server prepared the signature for
 *      (signer_certificate_sha256);
 *   3. signs data_to_sign with the private key — ECDSA (P-256/P-384/P-521) or RSASSA-PKCS1-v1_5 with the
 *      digest the server names (sha256 by default) — exactly what signing/device.py's DeviceClient.sign does;
 *      WebCrypto's ECDSA value is raw r‖s, converted here to DER ECDSA-Sig-Value (what CMS stores);
 *   4. POSTs {"signature_value": base64} to /api/signatures/{id} with the session cookie and the page's CSRF
 *      token (X-CSRF-Token); the server checks the value against the certificate and embeds it.
 *
 * Progress (reading key → signing → sending → embedded) is written to an aria-live region.
 *
 * Page markup (api/templates/officials/task.html):
 *   <form id="signing" data-pending="ID" data-dossier="CODE" data-done-url="/can-bo/nhiem-vu?...">
 *     <input type="file" id="key-file"> <input type="password" id="key-passphrase"> <button type="submit">
 *     <ol id="signing-steps"><li data-step="read">…</li><li data-step="sign">…</li>…</ol>
 *     <p id="signing-status" role="status" aria-live="polite"></p>
 *   </form>
 *   <script src="/static/vendor/pkijs/pkijs.bundle.min.js" defer></script>   (global MotcuaPkijs)
 *   <script src="/static/js/signing.js" defer></script>
 *
 * The signing functions do not touch the page: under Node (tests) `require("signing.js")` returns them.
 */
(function (root) {
  "use strict";

  var OID = {
    keyBag: "1.2.840.113549.1.12.10.1.1",
    shroudedKeyBag: "1.2.840.113549.1.12.10.1.2",
    certBag: "1.2.840.113549.1.12.10.1.3",
    ecPublicKey: "1.2.840.10045.2.1",
    rsaEncryption: "1.2.840.113549.1.1.1",
  };
  var CURVES = {
    "1.2.840.10045.3.1.7": "P-256",
    "1.3.132.0.34": "P-384",
    "1.3.132.0.35": "P-521",
  };
  var HASHES = { sha256: "SHA-256", sha384: "SHA-384", sha512: "SHA-512" };

  function SigningError(code, message) {
    var error = new Error(message || code);
    error.code = code;
    return error;
  }

  // ------------------------------------------------------------------ bytes

  function toBytes(value) {
    if (value instanceof Uint8Array) return value;
    if (value instanceof ArrayBuffer) return new Uint8Array(value);
    if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    throw new TypeError("expected bytes");
  }

  function toArrayBuffer(bytes) {
    var view = toBytes(bytes);
    return view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
  }

  function base64ToBytes(text) {
    var binary = atob(String(text).replace(/\s+/g, ""));
    var out = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  }

  function bytesToBase64(bytes) {
    var view = toBytes(bytes);
    var binary = "";
    for (var i = 0; i < view.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, view.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  function hex(bytes) {
    var view = toBytes(bytes);
    var out = "";
    for (var i = 0; i < view.length; i++) out += (view[i] < 16 ? "0" : "") + view[i].toString(16);
    return out;
  }

  function utf8(text) {
    return new TextEncoder().encode(text);
  }

  // ------------------------------------------------------------------ ECDSA: WebCrypto raw r‖s → DER

  function derLength(length) {
    if (length < 0x80) return [length];
    var bytes = [];
    while (length > 0) {
      bytes.unshift(length & 0xff);
      length >>= 8;
    }
    return [0x80 | bytes.length].concat(bytes);
  }

  function derInteger(bytes) {
    var start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start++;
    var body = Array.prototype.slice.call(bytes, start);
    if (body[0] & 0x80) body.unshift(0);
    return [0x02].concat(derLength(body.length), body);
  }

  /** ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } from WebCrypto's fixed-size r‖s. */
  function ecdsaRawToDer(raw) {
    var view = toBytes(raw);
    if (view.length === 0 || view.length % 2 !== 0) throw SigningError("bad_signature", "raw ECDSA value of odd length");
    var half = view.length / 2;
    var body = derInteger(view.subarray(0, half)).concat(derInteger(view.subarray(half)));
    return new Uint8Array([0x30].concat(derLength(body.length), body));
  }

  // ------------------------------------------------------------------ the key file

  /**
   * Open a PKCS#12 file with its passphrase. Returns {privateKey (CryptoKey, not extractable), algorithm
   * ("ECDSA" | "RSASSA-PKCS1-v1_5"), namedCurve, certificate (DER bytes of the signer's certificate),
   * certificateSha256 (hex), subject (text)}. Errors carry a `code`: wrong_passphrase, no_key, no_certificate,
   * unsupported_key, bad_file.
   */
  async function openKeyFile(lib, subtle, fileBytes, passphrase) {
    var pkijs = lib.pkijs;
    var asn1js = lib.asn1js;
    var pfx;
    try {
      pfx = pkijs.PFX.fromBER(toArrayBuffer(fileBytes));
    } catch (e) {
      throw SigningError("bad_file", "not a PKCS#12 file: " + e.message);
    }
    // PBES2 (PBKDF2) takes the passphrase as UTF-8 bytes; for the integrity MAC (HMAC with the PKCS#12 KDF)
    // pkijs turns the same bytes into the BMPString RFC 7292 wants. A wrong passphrase fails the MAC check.
    var password = toArrayBuffer(utf8(passphrase));
    try {
      await pfx.parseInternalValues({ password: password, checkIntegrity: true });
    } catch (e) {
      throw SigningError("wrong_passphrase", e.message);
    }
    var safe = pfx.parsedValue.authenticatedSafe;
    try {
      await safe.parseInternalValues({
        safeContents: safe.safeContents.map(function () {
          return { password: password };
        }),
      });
    } catch (e) {
      throw SigningError("wrong_passphrase", e.message);
    }
    var keyInfo = null;
    var certificates = [];
    var bags = [];
    safe.parsedValue.safeContents.forEach(function (content) {
      bags = bags.concat(content.value.safeBags);
    });
    for (var i = 0; i < bags.length; i++) {
      var bag = bags[i];
      if (bag.bagId === OID.shroudedKeyBag) {
        try {
          await bag.bagValue.parseInternalValues({ password: password });
        } catch (e) {
          throw SigningError("wrong_passphrase", e.message);
        }
        keyInfo = keyInfo || bag.bagValue.parsedValue;
      } else if (bag.bagId === OID.keyBag) {
        keyInfo = keyInfo || bag.bagValue;
      } else if (bag.bagId === OID.certBag && bag.bagValue.parsedValue instanceof pkijs.Certificate) {
        certificates.push(bag.bagValue.parsedValue);
      }
    }
    if (!keyInfo) throw SigningError("no_key", "the file holds no private key");
    if (!certificates.length) throw SigningError("no_certificate", "the file holds no certificate");

    var keyAlgorithm = keyInfo.privateKeyAlgorithm.algorithmId;
    var spkiOf = function (cert) {
      return hex(new Uint8Array(cert.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView));
    };
    var algorithm;
    var namedCurve = null;
    if (keyAlgorithm === OID.ecPublicKey) {
      var params = keyInfo.privateKeyAlgorithm.algorithmParams;
      namedCurve = params instanceof asn1js.ObjectIdentifier ? CURVES[params.valueBlock.toString()] : null;
      if (!namedCurve) throw SigningError("unsupported_key", "EC key on an unsupported curve");
      algorithm = { name: "ECDSA", namedCurve: namedCurve };
    } else if (keyAlgorithm === OID.rsaEncryption) {
      algorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }; // the hash is fixed per import; see sign()
    } else {
      throw SigningError("unsupported_key", "only ECDSA and RSA keys are supported");
    }
    var pkcs8 = keyInfo.toSchema().toBER(false);
    var privateKey;
    try {
      privateKey = await subtle.importKey("pkcs8", pkcs8, algorithm, false, ["sign"]);
    } catch (e) {
      throw SigningError("unsupported_key", e.message);
    }
    // the signer's certificate: the one whose public key belongs to the private key (a file may carry its CA too)
    var signer = certificates[0];
    var keyPublic = keyInfo.publicKey ? hex(new Uint8Array(keyInfo.publicKey.valueBlock.valueHexView)) : null;
    if (keyPublic) {
      for (var j = 0; j < certificates.length; j++) {
        if (spkiOf(certificates[j]) === keyPublic) signer = certificates[j];
      }
    } else if (certificates.length > 1) {
      // no public key in the PKCS#8 structure: the certificate that issued no other one in the file is the leaf
      var issuers = certificates.map(function (c) {
        return hex(new Uint8Array(c.issuer.toSchema().toBER(false)));
      });
      signer =
        certificates.find(function (c) {
          return issuers.indexOf(hex(new Uint8Array(c.subject.toSchema().toBER(false)))) < 0;
        }) || signer;
    }
    var certificateDer = new Uint8Array(signer.toSchema().toBER(false));
    var digest = new Uint8Array(await subtle.digest("SHA-256", certificateDer));
    var subject = signer.subject.typesAndValues
      .map(function (tv) {
        return tv.value.valueBlock.value;
      })
      .join(", ");
    return {
      privateKey: privateKey,
      rsaPkcs8: keyAlgorithm === OID.rsaEncryption ? pkcs8 : null,
      algorithm: algorithm.name,
      namedCurve: namedCurve,
      certificate: certificateDer,
      certificateSha256: hex(digest),
      subject: subject,
    };
  }

  /**
   * The raw signature value over dataToSign (bytes), hashed with digestAlgorithm ("sha256", …), exactly as
   * signing/device.py's DeviceClient.sign: DER ECDSA-Sig-Value for EC keys, PKCS#1 v1.5 for RSA keys.
   */
  async function signData(subtle, opened, dataToSign, digestAlgorithm) {
    var hash = HASHES[String(digestAlgorithm || "sha256").toLowerCase()];
    if (!hash) throw SigningError("unsupported_digest", "digest " + digestAlgorithm + " is not supported");
    var data = toBytes(dataToSign);
    if (opened.algorithm === "ECDSA") {
      var raw = await subtle.sign({ name: "ECDSA", hash: { name: hash } }, opened.privateKey, data);
      return ecdsaRawToDer(new Uint8Array(raw));
    }
    // RSA: WebCrypto binds the hash to the imported key, so import once more with the requested hash
    var key = opened.privateKey;
    if (hash !== "SHA-256") {
      key = await subtle.importKey("pkcs8", opened.rsaPkcs8, { name: "RSASSA-PKCS1-v1_5", hash: hash }, false, [
        "sign",
      ]);
    }
    return new Uint8Array(await subtle.sign({ name: "RSASSA-PKCS1-v1_5" }, key, data));
  }

  /** The whole device side for one pending signature (the JSON of GET /api/signatures/{id}). */
  async function signPending(lib, subtle, pending, fileBytes, passphrase, progress) {
    var report = progress || function () {};
    report("read");
    var opened = await openKeyFile(lib, subtle, fileBytes, passphrase);
    if (pending.signer_certificate_sha256 && opened.certificateSha256 !== pending.signer_certificate_sha256) {
      throw SigningError("wrong_certificate", "the key file holds " + opened.subject);
    }
    report("sign");
    var value = await signData(subtle, opened, base64ToBytes(pending.data_to_sign), pending.digest_algorithm);
    return { signature_value: bytesToBase64(value), signer: opened.subject };
  }

  var api = {
    openKeyFile: openKeyFile,
    signData: signData,
    signPending: signPending,
    ecdsaRawToDer: ecdsaRawToDer,
    base64ToBytes: base64ToBytes,
    bytesToBase64: bytesToBase64,
  };

  if (typeof module === "object" && module.exports) {
    module.exports = api;
    return;
  }
  root.MotcuaSigning = api;

  // ------------------------------------------------------------------ the page

  var document = root.document;
  if (!document) return;

  var EN = (document.documentElement.lang || "vi").toLowerCase().indexOf("en") === 0;
  var TEXT = {
    noLib: EN
      ? "The signing library did not load; reload the page."
      : "Không tải được thư viện ký số; hãy tải lại trang.",
    noCrypto: EN
      ? "This browser cannot sign (WebCrypto needs HTTPS or localhost)."
      : "Trình duyệt này không ký số được (WebCrypto cần HTTPS hoặc localhost).",
    noFile: EN ? "Choose your key file (.p12 / .pfx)." : "Hãy chọn tệp khóa (.p12 / .pfx) của bạn.",
    noPass: EN ? "Enter the key file's passphrase." : "Hãy nhập mật khẩu của tệp khóa.",
    fetching: EN ? "Fetching what to sign…" : "Đang lấy dữ liệu cần ký…",
    read: EN ? "Reading the key file…" : "Đang đọc tệp khóa…",
    sign: EN ? "Signing on this computer…" : "Đang ký trên máy tính này…",
    send: EN ? "Sending the signature…" : "Đang gửi chữ ký…",
    done: EN ? "Signed: the signature is embedded in the document." : "Đã ký: chữ ký đã được gắn vào văn bản.",
    wrong_passphrase: EN
      ? "Wrong passphrase, or the key file is damaged."
      : "Sai mật khẩu hoặc tệp khóa bị hỏng.",
    bad_file: EN ? "This is not a PKCS#12 key file (.p12 / .pfx)." : "Tệp đã chọn không phải tệp khóa PKCS#12 (.p12 / .pfx).",
    no_key: EN ? "The key file holds no private key." : "Tệp khóa không chứa khóa bí mật.",
    no_certificate: EN ? "The key file holds no certificate." : "Tệp khóa không chứa chứng thư số.",
    unsupported_key: EN ? "This kind of key is not supported (ECDSA or RSA only)." : "Loại khóa này không được hỗ trợ (chỉ ECDSA hoặc RSA).",
    unsupported_digest: EN ? "The requested digest is not supported." : "Thuật toán băm được yêu cầu không được hỗ trợ.",
    wrong_certificate: EN
      ? "This key file is not the one the document was prepared for (another person's certificate)."
      : "Tệp khóa này không phải của người được chỉ định ký văn bản (chứng thư số khác).",
    login: EN ? "Your session has ended: log in again." : "Phiên đăng nhập đã hết: hãy đăng nhập lại.",
    failed: EN ? "Signing failed: " : "Ký số không thành công: ",
    stepDone: EN ? " (done)" : " (xong)",
    stepNow: EN ? " (in progress)" : " (đang thực hiện)",
  };

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function readFile(file) {
    if (file.arrayBuffer) return file.arrayBuffer();
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () {
        resolve(reader.result);
      };
      reader.onerror = function () {
        reject(reader.error);
      };
      reader.readAsArrayBuffer(file);
    });
  }

  function problemMessage(response) {
    return response
      .json()
      .catch(function () {
        return {};
      })
      .then(function (body) {
        if (response.status === 401) return TEXT.login;
        return (EN ? body.detail : body.title) || body.title || body.detail || "HTTP " + response.status;
      });
  }

  function setup(form) {
    var pendingId = form.getAttribute("data-pending");
    var status = document.getElementById("signing-status");
    var steps = form.querySelectorAll("[data-step]");
    var button = form.querySelector('button[type="submit"]');
    var fileInput = form.querySelector('input[type="file"]');
    var passInput = form.querySelector('input[type="password"]');
    button.disabled = false; // the page ships it disabled: without this script the form does nothing

    function say(text, kind) {
      status.textContent = text;
      status.className = kind || "";
    }

    function mark(current) {
      var order = ["read", "sign", "send", "done"];
      Array.prototype.forEach.call(steps, function (li) {
        var name = li.getAttribute("data-step");
        var label = li.getAttribute("data-label") || li.textContent;
        li.setAttribute("data-label", label);
        var state = "";
        if (current === null) state = "";
        else if (order.indexOf(name) < order.indexOf(current) || current === "done") state = "done";
        else if (name === current) state = "current";
        li.className = state ? "step-" + state : "";
        if (state === "current") li.setAttribute("aria-current", "step");
        else li.removeAttribute("aria-current");
        li.textContent = label + (state === "done" ? TEXT.stepDone : state === "current" ? TEXT.stepNow : "");
      });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!root.MotcuaPkijs || !root.MotcuaPkijs.pkijs) return say(TEXT.noLib, "error");
      if (!root.crypto || !root.crypto.subtle) return say(TEXT.noCrypto, "error");
      var file = fileInput.files && fileInput.files[0];
      if (!file) return say(TEXT.noFile, "error");
      if (!passInput.value) return say(TEXT.noPass, "error");
      var passphrase = passInput.value;
      var subtle = root.crypto.subtle;
      button.disabled = true;
      form.setAttribute("aria-busy", "true");
      say(TEXT.fetching);
      var headers = { Accept: "application/json" };
      fetch("/api/signatures/" + encodeURIComponent(pendingId), { credentials: "same-origin", headers: headers })
        .then(function (response) {
          if (!response.ok) {
            return problemMessage(response).then(function (message) {
              throw SigningError("http", message);
            });
          }
          return Promise.all([response.json(), readFile(file)]);
        })
        .then(function (both) {
          return signPending(root.MotcuaPkijs, subtle, both[0], both[1], passphrase, function (step) {
            mark(step);
            say(TEXT[step]);
          });
        })
        .then(function (signed) {
          passInput.value = "";
          mark("send");
          say(TEXT.send);
          return fetch("/api/signatures/" + encodeURIComponent(pendingId), {
            method: "POST",
            credentials: "same-origin",
            headers: {
              Accept: "application/json",
              "Content-Type": "application/json",
              "X-CSRF-Token": csrfToken(),
            },
            body: JSON.stringify({ signature_value: signed.signature_value }),
          });
        })
        .then(function (response) {
          if (!response.ok) {
            return problemMessage(response).then(function (message) {
              throw SigningError("http", message);
            });
          }
          return response.json();
        })
        .then(function () {
          mark("done");
          say(TEXT.done, "ok");
          form.removeAttribute("aria-busy");
          var next = form.getAttribute("data-done-url");
          if (next && next.charAt(0) === "/" && next.charAt(1) !== "/") {
            root.setTimeout(function () {
              root.location.assign(next);
            }, 1500);
          }
        })
        .catch(function (error) {
          passInput.value = "";
          mark(null);
          button.disabled = false;
          form.removeAttribute("aria-busy");
          var known = error && error.code && TEXT[error.code];
          say(TEXT.failed + (known || (error && error.message) || String(error)), "error");
        });
    });
  }

  function start() {
    var form = document.getElementById("signing");
    if (form && form.getAttribute("data-pending")) setup(form);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})(typeof window !== "undefined" ? window : globalThis);
