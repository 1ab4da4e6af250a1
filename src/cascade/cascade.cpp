#include "cascade/cascade.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>

#include "cascade/builtin.h"
#include "common/errors.h"

namespace attnsim::cascade {

namespace {

// ---------------------------------------------------------------------------------------------
// Expressions: expr = term (('+' | '-') term)*; term = factor (('*' | '/') factor)*;
// factor = NUMBER | NAME | 'sqrt' '(' expr ')' | '(' expr ')' | '-' factor.
class ExprParser {
 public:
  ExprParser(const std::string& s, const std::map<std::string, double>& names) : s_(s), names_(names) {}
  bool parse(double* v, std::string* why) {
    try {
      *v = expr();
      skip();
      if (i_ != s_.size()) throw std::string("unexpected \"") + s_.substr(i_) + "\"";
      return true;
    } catch (const std::string& e) {
      *why = e;
      return false;
    }
  }

 private:
  void skip() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool eat(char c) {
    skip();
    if (i_ < s_.size() && s_[i_] == c) return ++i_, true;
    return false;
  }
  double expr() {
    double v = term();
    for (;;) {
      if (eat('+'))
        v += term();
      else if (eat('-'))
        v -= term();
      else
        return v;
    }
  }
  double term() {
    double v = factor();
    for (;;) {
      if (eat('*')) {
        v *= factor();
      } else if (eat('/')) {
        const double d = factor();
        if (d == 0) throw std::string("division by zero");
        v /= d;
      } else {
        return v;
      }
    }
  }
  double factor() {
    skip();
    if (eat('-')) return -factor();
    if (eat('(')) {
      const double v = expr();
      if (!eat(')')) throw std::string("missing \")\"");
      return v;
    }
    if (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.')) {
      // strtod, not stod: a literal beyond a double ("1e400", "1e-400") or a lone "." is the user's
      // error, named, not an exception of the standard library.
      const std::string rest = s_.substr(i_);
      char* end = nullptr;
      errno = 0;
      const double v = std::strtod(rest.c_str(), &end);
      if (end == rest.c_str()) throw std::string("\"" + rest + "\" is not a number");
      if (errno == ERANGE || !std::isfinite(v))
        throw std::string("the number " + rest.substr(0, std::size_t(end - rest.c_str())) + " is out of a double's range");
      i_ += std::size_t(end - rest.c_str());
      return v;
    }
    std::size_t j = i_;
    while (j < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[j])) || s_[j] == '_')) ++j;
    if (j == i_) throw std::string(i_ < s_.size() ? "unexpected \"" + s_.substr(i_) + "\"" : "expression ends early");
    const std::string name = s_.substr(i_, j - i_);
    i_ = j;
    if (name == "sqrt") {
      if (!eat('(')) throw std::string("sqrt needs \"(\"");
      const double v = expr();
      if (!eat(')')) throw std::string("missing \")\"");
      if (v < 0) throw std::string("sqrt of a negative value");
      return std::sqrt(v);
    }
    auto it = names_.find(name);
    if (it == names_.end()) {
      std::string known;
      for (const auto& [k, x] : names_) known += (known.empty() ? "" : ", ") + k;
      throw std::string("unknown name \"" + name + "\" (known: " + known + ")");
    }
    return it->second;
  }

  const std::string& s_;
  const std::map<std::string, double>& names_;
  std::size_t i_ = 0;
};

// Keys starting with "//" are comments (JSON has none).
bool is_comment(const std::string& key) { return key.rfind("//", 0) == 0; }

bool is_ident(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

std::string trim(const std::string& s) {
  std::size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

// "NAME[r1,r2]" -> name and rank names; false when malformed.
bool parse_access(const std::string& text, std::string* name, std::vector<std::string>* ranks) {
  const std::string t = trim(text);
  const std::size_t open = t.find('[');
  if (open == std::string::npos || t.back() != ']') return false;
  *name = trim(t.substr(0, open));
  if (!is_ident(*name)) return false;
  ranks->clear();
  std::string inner = t.substr(open + 1, t.size() - open - 2);
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = inner.find(',', start);
    const std::string r = trim(inner.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (!is_ident(r)) return false;
    ranks->push_back(r);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return !ranks->empty();
}

const char* const kMapNames[] = {"scale", "exp", "relu", "gelu", "copy", "l2norm", "add", "mul", "div",
                                 // low-rank variants' map ops
                                 "prefix_mean", "add_row",
                                 // row-wise ops of a model's layers
                                 "layernorm", "rmsnorm", "swiglu"};
static_assert(sizeof(kMapNames) / sizeof(kMapNames[0]) == std::size_t(MapOp::kCount), "one name per MapOp");

class Reader {
 public:
  Reader(const Json& doc, const std::string& source) : doc_(doc), diag_(source) { d_.source = source; }

  CascadeDesc read() {
    if (!doc_.is_object()) {
      diag_.add("", "a cascade must be a JSON object", doc_);
      diag_.throw_if_any();
    }
    JsonView root(&doc_, "", &diag_);
    std::vector<std::string> keys = {"name", "description", "ranks", "params", "inputs", "outputs", "shared", "steps"};
    for (auto it = doc_.begin(); it != doc_.end(); ++it)
      if (is_comment(it.key())) keys.push_back(it.key());
    root.reject_unknown_keys(keys);
    d_.name = root.string("name", std::nullopt);
    d_.description = root.string("description", std::string());
    read_ranks(root);
    read_params(root);
    read_io(root, "inputs", TensorRole::Input);
    read_io(root, "outputs", TensorRole::Output);
    read_shared(root);
    read_steps();
    for (const TensorDecl& t : d_.tensors)
      if (t.role == TensorRole::Output && !written_.count(t.name))
        diag_.add(t.path, "output " + t.name + " is written by no step");
    diag_.throw_if_any();
    return std::move(d_);
  }

 private:
  void read_ranks(const JsonView& root) {
    const Json* r = root.has("ranks") ? &doc_["ranks"] : nullptr;
    if (!r) return diag_.add("/ranks", "is required but not given");
    if (!r->is_object() || r->empty()) return diag_.add("/ranks", "must be a non-empty object of rank: extent", *r);
    for (auto it = r->begin(); it != r->end(); ++it) {
      const std::string path = "/ranks/" + it.key();
      if (!is_ident(it.key())) diag_.add(path, "a rank name must be an identifier (letters, digits, _)");
      std::string ext;
      if (it.value().is_number_integer())
        ext = std::to_string(it.value().get<std::int64_t>());
      else if (it.value().is_string())
        ext = it.value().get<std::string>();
      else
        diag_.add(path, "an extent must be an integer or an expression string (\"N\", \"d\", \"2*s\")", it.value());
      d_.ranks.push_back({it.key(), ext, path});
    }
    if (d_.ranks.size() > std::size_t(kMaxRanks))
      diag_.add("/ranks", "at most " + std::to_string(kMaxRanks) + " ranks");
  }

  void read_params(const JsonView& root) {
    if (!root.has("params")) return;
    const Json& p = doc_["params"];
    if (!p.is_object()) return diag_.add("/params", "must be an object of name: number", p);
    for (auto it = p.begin(); it != p.end(); ++it) {
      if (!it.value().is_number()) {
        diag_.add("/params/" + it.key(), "must be a number", it.value());
        continue;
      }
      if (d_.rank_index(it.key()) >= 0) diag_.add("/params/" + it.key(), "a param may not share a rank's name");
      d_.params[it.key()] = it.value().get<double>();
    }
  }

  // Rank names -> indices, recording a problem for an unknown one.
  bool ranks_of(const std::vector<std::string>& names, const std::string& path, std::vector<int>* out) {
    out->clear();
    bool ok = true;
    for (const std::string& n : names) {
      const int r = d_.rank_index(n);
      if (r < 0) {
        std::vector<std::string> known;
        for (const RankDecl& rd : d_.ranks) known.push_back(rd.name);
        const std::string hint = did_you_mean(n, known);
        diag_.add(path, "rank \"" + n + "\" is not declared in /ranks" +
                            (hint.empty() ? "" : " (did you mean \"" + hint + "\"?)"));
        ok = false;
      }
      out->push_back(r);
    }
    if (out->size() > std::size_t(kMaxTensorRanks)) {
      diag_.add(path, "a tensor has one or two ranks (the tile program is 2-D)");
      ok = false;
    }
    if (out->size() == 2 && (*out)[0] == (*out)[1] && (*out)[0] >= 0) {
      diag_.add(path, "a tensor may not repeat a rank");
      ok = false;
    }
    return ok;
  }

  // "shared": inputs every instance reads from the same DRAM block (weights shared by the heads).
  void read_shared(const JsonView& root) {
    if (!root.has("shared")) return;
    const Json& sh = doc_["shared"];
    if (!sh.is_array()) return diag_.add("/shared", "must be an array of input names", sh);
    for (std::size_t i = 0; i < sh.size(); ++i) {
      const std::string path = "/shared/" + std::to_string(i);
      const int t = sh[i].is_string() ? d_.tensor_index(sh[i].get<std::string>()) : -1;
      if (t < 0 || d_.tensors[std::size_t(t)].role != TensorRole::Input)
        diag_.add(path, "must name an input of /inputs", sh[i]);
      else
        d_.tensors[std::size_t(t)].shared = true;
    }
  }

  void read_io(const JsonView& root, const char* key, TensorRole role) {
    const std::string base = std::string("/") + key;
    if (!root.has(key)) return diag_.add(base, "is required but not given");
    const Json& io = doc_[key];
    if (!io.is_object() || io.empty()) return diag_.add(base, "must be a non-empty object of name: [ranks]", io);
    for (auto it = io.begin(); it != io.end(); ++it) {
      const std::string path = base + "/" + it.key();
      if (!is_ident(it.key())) diag_.add(path, "a tensor name must be an identifier");
      if (d_.tensor_index(it.key()) >= 0) {
        diag_.add(path, "tensor " + it.key() + " is declared twice");
        continue;
      }
      std::vector<std::string> names;
      if (it.value().is_array())
        for (const Json& r : it.value())
          if (r.is_string()) names.push_back(r.get<std::string>());
      if (!it.value().is_array() || names.size() != it.value().size() || names.empty()) {
        diag_.add(path, "must be an array of one or two rank names", it.value());
        continue;
      }
      TensorDecl t;
      t.name = it.key();
      t.role = role;
      t.path = path;
      if (ranks_of(names, path, &t.ranks)) d_.tensors.push_back(t);
    }
    if (role == TensorRole::Input)
      for (const TensorDecl& t : d_.tensors) defined_.insert(t.name);
  }

  // The tensor a step writes: a declared output (same ranks) or a new intermediate.
  int out_tensor(const std::string& name, const std::vector<std::string>& ranks, const std::string& path,
                 ElemKind elem) {
    std::vector<int> idx;
    if (!ranks_of(ranks, path, &idx)) return -1;
    if (written_.count(name) || defined_.count(name)) {
      diag_.add(path, "tensor " + name + " is already defined (each tensor is written by one step)");
      return -1;
    }
    int t = d_.tensor_index(name);
    if (t >= 0) {
      if (d_.tensors[t].role != TensorRole::Output) {
        diag_.add(path, "tensor " + name + " is an input");
        return -1;
      }
      if (d_.tensors[t].ranks != idx) {
        diag_.add(path, "output " + name + " is declared with other ranks in /outputs");
        return -1;
      }
    } else {
      TensorDecl td;
      td.name = name;
      td.ranks = idx;
      td.path = path;
      d_.tensors.push_back(td);
      t = int(d_.tensors.size()) - 1;
    }
    d_.tensors[t].elem = elem;
    written_.insert(name);
    defined_.insert(name);
    return t;
  }

  // A tensor read by a step: defined before it, and (when ranks are written) with those ranks.
  int in_tensor(const std::string& name, const std::vector<std::string>* ranks, const std::string& path) {
    const int t = d_.tensor_index(name);
    if (t < 0 || !defined_.count(name)) {
      diag_.add(path, "tensor " + name +
                          (t < 0 ? " is not declared (an input, or an earlier step's output)"
                                 : " is read before the step that writes it"));
      return -1;
    }
    if (ranks) {
      std::vector<int> idx;
      if (!ranks_of(*ranks, path, &idx)) return -1;
      if (idx != d_.tensors[t].ranks) {
        diag_.add(path, "tensor " + name + " is indexed by other ranks where it is defined");
        return -1;
      }
    }
    return t;
  }

  void read_steps() {
    if (!doc_.contains("steps")) return diag_.add("/steps", "is required but not given");
    const Json& steps = doc_["steps"];
    if (!steps.is_array() || steps.empty()) return diag_.add("/steps", "must be a non-empty array of steps", steps);
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const std::string path = "/steps/" + std::to_string(i);
      const std::size_t before = diag_.problems().size();
      StepDecl s;
      s.path = path;
      const bool ok = steps[i].is_string()   ? read_equation(steps[i].get<std::string>(), path, &s)
                      : steps[i].is_object() ? read_object(steps[i], path, &s)
                                             : false;
      if (!steps[i].is_string() && !steps[i].is_object())
        diag_.add(path, "a step is an equation string or an object", steps[i]);
      if (ok && diag_.problems().size() == before) d_.steps.push_back(s);
    }
  }

  // "OUT[a,b] = X[..] * Y[..]" (contraction) or "OUT[..] = X[..] + Y[..]" (elementwise add).
  bool read_equation(const std::string& text, const std::string& path, StepDecl* s) {
    const std::size_t eq = text.find('=');
    const std::string rhs = eq == std::string::npos ? "" : text.substr(eq + 1);
    if (std::count(rhs.begin(), rhs.end(), '*') == 2 && rhs.find('+') != std::string::npos)
      return read_sum_of_contractions(text, path, s);
    const std::size_t op = rhs.find_first_of("*+");
    std::string on, an, bn;
    std::vector<std::string> orr, ar, br;
    if (eq == std::string::npos || op == std::string::npos || !parse_access(text.substr(0, eq), &on, &orr) ||
        !parse_access(rhs.substr(0, op), &an, &ar) || !parse_access(rhs.substr(op + 1), &bn, &br)) {
      diag_.add(path,
                "an equation step is \"OUT[a,b] = X[a,r] * Y[r,b]\" (a contraction over r) or "
                "\"OUT[a,b] = X[a,b] + Y[a,b]\"; anything else is an object step",
                Json(text));
      return false;
    }
    const int a = in_tensor(an, &ar, path), b = in_tensor(bn, &br, path);
    if (a < 0 || b < 0) return false;
    if (rhs[op] == '+') {
      if (ar != orr || br != orr) {
        diag_.add(path, "an elementwise add reads and writes the same indices", Json(text));
        return false;
      }
      s->kind = StepKind::Map;
      s->map = MapOp::Add;
      s->in = {a, b};
      s->out = out_tensor(on, orr, path, ElemKind::Operand);
      return s->out >= 0;
    }
    s->kind = StepKind::Contract;
    // The summed rank: in both operands, not in the output.
    std::vector<std::string> summed;
    for (const std::string& r : ar)
      if (std::find(br.begin(), br.end(), r) != br.end() && std::find(orr.begin(), orr.end(), r) == orr.end())
        summed.push_back(r);
    // A matrix-vector product: OUT[a] = X[a,r] * y[r] (the array runs it with one output column).
    if (orr.size() == 1 && ar.size() == 2 && br.size() == 1 && summed.size() == 1) {
      if (ar[0] != orr[0] || ar[1] != summed[0] || br[0] != summed[0]) {
        diag_.add(path, "a matrix-vector contraction is \"OUT[a] = X[a,r] * y[r]\"", Json(text));
        return false;
      }
      s->in = {a, b};
      s->over = d_.rank_index(summed[0]);
      s->out = out_tensor(on, orr, path, ElemKind::Accumulator);
      return s->out >= 0;
    }
    if (orr.size() != 2 || ar.size() != 2 || br.size() != 2 || summed.size() != 1) {
      diag_.add(path,
                "a contraction writes a 2-rank tensor from two 2-rank operands that share exactly one summed "
                "rank absent from the output (or a 1-rank one, OUT[a] = X[a,r] * y[r])",
                Json(text));
      return false;
    }
    const std::string& r = summed[0];
    if (ar[0] != orr[0] || ar[1] != r) {
      diag_.add(path,
                "the first operand must be indexed [" + orr[0] + "," + r +
                    "] (output row, summed rank): the array reads it row-major; swap the operands or "
                    "transpose it in an earlier step",
                Json(text));
      return false;
    }
    if (!((br[0] == r && br[1] == orr[1]) || (br[0] == orr[1] && br[1] == r))) {
      diag_.add(path, "the second operand must be indexed [" + r + "," + orr[1] + "] or [" + orr[1] + "," + r + "]",
                Json(text));
      return false;
    }
    s->b_transposed = br[0] == orr[1];
    s->in = {a, b};
    s->over = d_.rank_index(r);
    s->out = out_tensor(on, orr, path, ElemKind::Accumulator);
    return s->out >= 0;
  }

  // ---- low-rank variants: a sum of two contractions over one summed rank ----
  // "OUT[a,b] = X[a,r] * Y[r,b] + Z[a,r] * W[r,b]" (each second operand may be [b,r]).
  bool read_sum_of_contractions(const std::string& text, const std::string& path, StepDecl* s) {
    const std::size_t eq = text.find('=');
    const std::string rhs = text.substr(eq + 1);
    const std::size_t plus = rhs.find('+');
    const std::string t1 = rhs.substr(0, plus), t2 = rhs.substr(plus + 1);
    const std::size_t m1 = t1.find('*'), m2 = t2.find('*');
    std::string on, n[4];
    std::vector<std::string> orr, r[4];
    if (m1 == std::string::npos || m2 == std::string::npos || !parse_access(text.substr(0, eq), &on, &orr) ||
        !parse_access(t1.substr(0, m1), &n[0], &r[0]) || !parse_access(t1.substr(m1 + 1), &n[1], &r[1]) ||
        !parse_access(t2.substr(0, m2), &n[2], &r[2]) || !parse_access(t2.substr(m2 + 1), &n[3], &r[3])) {
      diag_.add(path, "a sum of contractions is \"OUT[a,b] = X[a,r] * Y[r,b] + Z[a,r] * W[r,b]\"", Json(text));
      return false;
    }
    int idx[4];
    for (int i = 0; i < 4; ++i)
      if ((idx[i] = in_tensor(n[i], &r[i], path)) < 0) return false;
    std::string summed[2];
    bool transposed[2] = {false, false};
    for (int k = 0; k < 2; ++k) {
      const std::vector<std::string>&a = r[2 * k], &b = r[2 * k + 1];
      if (orr.size() != 2 || a.size() != 2 || b.size() != 2 || a[0] != orr[0] || a[1] == orr[1] ||
          !((b[0] == a[1] && b[1] == orr[1]) || (b[0] == orr[1] && b[1] == a[1]))) {
        diag_.add(path,
                  "each term of a sum of contractions is X[" + (orr.empty() ? std::string("a") : orr[0]) +
                      ",r] * Y[r," + (orr.size() < 2 ? std::string("b") : orr[1]) +
                      "] (or Y[b,r]): output row first in X, one summed rank r absent from the output",
                  Json(text));
        return false;
      }
      summed[k] = a[1];
      transposed[k] = b[0] == orr[1];
    }
    if (summed[0] != summed[1]) {
      diag_.add(path,
                "both terms of a sum of contractions sum over the same rank (" + summed[0] + ", " + summed[1] + ")",
                Json(text));
      return false;
    }
    s->kind = StepKind::Contract;
    s->in = {idx[0], idx[1], idx[2], idx[3]};
    s->b_transposed = transposed[0];
    s->b2_transposed = transposed[1];
    s->over = d_.rank_index(summed[0]);
    s->out = out_tensor(on, orr, path, ElemKind::Accumulator);
    return s->out >= 0;
  }

  // ---- low-rank variants: gather ----
  // {"out": "Xs[j,e]", "op": "gather", "in": "X"}: X an input [t,e], Xs its evenly spaced rows.
  bool read_gather(const std::string& path, const std::string& oname, const std::vector<std::string>& oranks,
                   const std::vector<int>& in_idx, StepDecl* s) {
    s->kind = StepKind::Gather;
    if (in_idx.size() != 1) return diag_.add(path + "/in", "gather reads one tensor"), false;
    const TensorDecl& x = d_.tensors[std::size_t(in_idx[0])];
    if (x.role != TensorRole::Input)
      return diag_.add(path + "/in", "gather reads rows of an input (straight from DRAM), not " + x.name), false;
    std::vector<int> oi;
    if (!ranks_of(oranks, path + "/out", &oi)) return false;
    if (x.ranks.size() != 2 || oi.size() != 2 || oi[1] != x.ranks[1] || oi[0] == x.ranks[0])
      return diag_.add(path + "/out", "gather writes [sample rank, the column rank of " + x.name + "] from " + x.name +
                                          "[row rank, column rank]; the sample rank is a new rank"),
             false;
    s->out = out_tensor(oname, oranks, path + "/out", ElemKind::Operand);
    return s->out >= 0;
  }

  bool read_object(const Json& j, const std::string& path, StepDecl* s) {
    JsonView v(&j, path, &diag_);
    std::vector<std::string> keys = {"out", "op", "in", "over", "scale", "mask", "iterations"};
    for (auto it = j.begin(); it != j.end(); ++it)
      if (is_comment(it.key())) keys.push_back(it.key());
    v.reject_unknown_keys(keys);
    const std::string out = v.string("out", std::nullopt);
    std::vector<std::string> op_names = {"softmax", "sum", "max", "favor", "segment_mean", "pinv", "gather"};
    for (const char* n : kMapNames) op_names.push_back(n);
    const std::string op = v.string("op", std::nullopt);
    std::vector<std::string> ins;
    if (j.contains("in")) {
      if (j["in"].is_string())
        ins.push_back(j["in"].get<std::string>());
      else if (j["in"].is_array())
        for (const Json& x : j["in"])
          if (x.is_string()) ins.push_back(x.get<std::string>());
      if (ins.empty() || (j["in"].is_array() && ins.size() != j["in"].size()))
        diag_.add(path + "/in", "must be a tensor name or an array of tensor names", j["in"]);
    } else {
      diag_.add(path + "/in", "is required but not given");
    }
    std::string oname;
    std::vector<std::string> oranks;
    if (j.contains("out") && j["out"].is_string() && !parse_access(out, &oname, &oranks))
      diag_.add(path + "/out", "must name the tensor with its ranks, \"P[m,p]\"", j["out"]);
    if (std::find(op_names.begin(), op_names.end(), op) == op_names.end()) {
      if (j.contains("op") && j["op"].is_string()) {
        std::string list;
        for (const auto& n : op_names) list += (list.empty() ? "" : "|") + n;
        const std::string hint = did_you_mean(op, op_names);
        diag_.add(path + "/op", "must be one of " + list + (hint.empty() ? "" : " (did you mean \"" + hint + "\"?)"),
                  j["op"]);
      }
      return false;
    }
    if (oname.empty() || ins.empty()) return false;
    std::vector<int> in_idx;
    for (const std::string& n : ins) in_idx.push_back(in_tensor(n, nullptr, path + "/in"));
    for (int t : in_idx)
      if (t < 0) return false;
    s->in = in_idx;
    if (j.contains("scale")) {
      if (j["scale"].is_number())
        s->scale = Json(j["scale"]).dump();
      else if (j["scale"].is_string())
        s->scale = j["scale"].get<std::string>();
      else
        diag_.add(path + "/scale", "must be a number or an expression string", j["scale"]);
      if (!s->scale.empty()) {
        // Check the syntax now, with every name this file defines (the caller's symbols come at binding).
        std::map<std::string, double> names = d_.params;
        for (const RankDecl& r : d_.ranks) names[r.name] = 1;
        double x = 0;
        std::string why;
        if (!eval_expr(s->scale, names, &x, &why) && why.find("unknown name") == std::string::npos)
          diag_.add(path + "/scale", why, j["scale"]);
      }
    }
    const std::string mask = v.choice("mask", std::string("layer"), {"layer", "none", "causal"});
    s->mask = mask == "none" ? Mask::None : mask == "causal" ? Mask::Causal : Mask::Layer;
    if (j.contains("mask") && op != "softmax") diag_.add(path + "/mask", "only a softmax has a mask");
    if (op == "gather") {
      if (j.contains("over") || j.contains("scale")) diag_.add(path, "gather takes no \"over\" or \"scale\"");
      return read_gather(path, oname, oranks, in_idx, s);
    }
    const TensorDecl& x = d_.tensors[std::size_t(in_idx[0])];
    auto want_inputs = [&](std::size_t n) {
      if (in_idx.size() == n) return true;
      diag_.add(path + "/in", op + " reads " + std::to_string(n) + (n == 1 ? " tensor" : " tensors"));
      return false;
    };
    auto over_col = [&](bool required) {
      if (!j.contains("over")) {
        if (required) diag_.add(path + "/over", "is required: the rank " + op + " runs over");
        return required ? false : true;
      }
      const std::string r = v.string("over", std::nullopt);
      s->over = d_.rank_index(r);
      if (x.ranks.size() != 2 || s->over != x.ranks[1]) {
        diag_.add(path + "/over", op + " runs over the column (second) rank of " + x.name, j["over"]);
        return false;
      }
      return true;
    };
    if (op == "softmax") {
      s->kind = StepKind::Softmax;
      if (!want_inputs(1) || !over_col(true)) return false;
      std::vector<std::string> xr;
      for (int r : x.ranks) xr.push_back(d_.ranks[std::size_t(r)].name);
      if (oranks != xr) return diag_.add(path + "/out", "softmax writes the indices it reads"), false;
      s->out = out_tensor(oname, oranks, path + "/out", ElemKind::Operand);
      return s->out >= 0;
    }
    if (op == "sum" || op == "max") {
      s->kind = StepKind::Reduce;
      s->reduce = op == "sum" ? ReduceOp::Sum : ReduceOp::Max;
      if (!want_inputs(1) || !over_col(true)) return false;
      if (oranks.size() != 1 || d_.rank_index(oranks[0]) != x.ranks[0])
        return diag_.add(path + "/out", "a reduction over the column rank writes [row rank]"), false;
      s->out = out_tensor(oname, oranks, path + "/out", ElemKind::Operand);
      return s->out >= 0;
    }
    if (op == "favor" || op == "segment_mean" || op == "pinv")
      return read_lowrank_step(j, v, op, oname, oranks, path, s);
    if (j.contains("iterations")) diag_.add(path + "/iterations", "only pinv takes \"iterations\"");
    s->kind = StepKind::Map;
    for (std::size_t i = 0; i < std::size_t(MapOp::kCount); ++i)
      if (op == kMapNames[i]) s->map = MapOp(i);
    const bool norm = s->map == MapOp::LayerNorm || s->map == MapOp::RmsNorm;
    const bool binary = s->map == MapOp::Add || s->map == MapOp::Mul || s->map == MapOp::Div ||
                        s->map == MapOp::AddRow || s->map == MapOp::SwiGlu || norm;
    if (!want_inputs(binary ? 2 : 1)) return false;
    if (s->map == MapOp::L2Norm || norm) {
      if (!over_col(true)) return false;
    } else if (s->map == MapOp::PrefixMean) {
      // A scan over the row rank (the first), carried across its tiles.
      if (!j.contains("over")) return diag_.add(path + "/over", "is required: the rank prefix_mean scans"), false;
      const std::string r = v.string("over", std::nullopt);
      s->over = d_.rank_index(r);
      if (x.ranks.size() != 2 || s->over != x.ranks[0])
        return diag_.add(path + "/over", "prefix_mean scans the row (first) rank of " + x.name, j["over"]), false;
    } else if (j.contains("over")) {
      diag_.add(path + "/over", op + " is elementwise: no \"over\"");
    }
    if (s->map == MapOp::Scale && s->scale.empty()) diag_.add(path + "/scale", "scale needs \"scale\"");
    if (s->map != MapOp::Scale && j.contains("scale") && op != "softmax")
      diag_.add(path + "/scale", "only softmax and scale take \"scale\"");
    std::vector<std::string> xr;
    for (int r : x.ranks) xr.push_back(d_.ranks[std::size_t(r)].name);
    if (oranks != xr) return diag_.add(path + "/out", op + " writes the indices of its (first) input"), false;
    if (s->map == MapOp::AddRow) {
      const TensorDecl& y = d_.tensors[std::size_t(in_idx[1])];
      if (x.ranks.size() != 2 || y.ranks.size() != 2 || y.ranks[1] != x.ranks[1] || y.ranks[0] == x.ranks[0])
        return diag_.add(path + "/in", "add_row adds a bias b[u,b] (u of extent 1) to X[a,b]"), false;
    } else if (norm) {
      // The parameters: rows of the column rank's length (layernorm: scale and shift; rmsnorm: scale).
      const TensorDecl& y = d_.tensors[std::size_t(in_idx[1])];
      if (y.ranks.size() != 2 || y.ranks[1] != x.ranks[1] || y.ranks[0] == x.ranks[0])
        return diag_.add(path + "/in", op + " reads X[a,b] and its parameters g[w,b] (w a rank of its own: " +
                                           (s->map == MapOp::LayerNorm ? "2 rows, scale and shift)" : "1 row, the scale)")),
               false;
    } else if (binary) {
      const TensorDecl& y = d_.tensors[std::size_t(in_idx[1])];
      if (s->map == MapOp::Div ? !(y.ranks.size() == 1 && y.ranks[0] == x.ranks[0]) : y.ranks != x.ranks)
        return diag_.add(path + "/in", s->map == MapOp::Div ? "div divides X[a,b] by a row vector l[a]"
                                                            : op + " reads two tensors with the same indices"),
               false;
    }
    s->out = out_tensor(oname, oranks, path + "/out", ElemKind::Operand);
    return s->out >= 0;
  }

  // ---- Performer and Nystromformer steps: favor, segment_mean, pinv (cascade.h has their forms) ----
  bool read_lowrank_step(const Json& j, JsonView& v, const std::string& op, const std::string& oname,
                         const std::vector<std::string>& oranks, const std::string& path, StepDecl* s) {
    auto rank_names = [&](const TensorDecl& t) {
      std::vector<std::string> r;
      for (int x : t.ranks) r.push_back(d_.ranks[std::size_t(x)].name);
      return r;
    };
    auto inputs = [&](std::size_t n) {
      if (s->in.size() == n) return true;
      diag_.add(path + "/in", op + " reads " + std::to_string(n) + (n == 1 ? " tensor" : " tensors"));
      return false;
    };
    if (j.contains("over")) diag_.add(path + "/over", op + " takes no \"over\": its ranks follow from its inputs");
    if (op != "pinv" && j.contains("iterations")) diag_.add(path + "/iterations", "only pinv takes \"iterations\"");
    if (op != "favor" && j.contains("scale"))
      diag_.add(path + "/scale", "only softmax, scale and favor take \"scale\"");
    if (op == "favor") {
      // in[0]: the projection [token, feature] or [feature, token]; in[1]: the tokens [token, e].
      s->kind = StepKind::Favor;
      if (!inputs(2)) return false;
      const TensorDecl &x = d_.tensors[std::size_t(s->in[0])], &y = d_.tensors[std::size_t(s->in[1])];
      if (x.ranks.size() != 2 || y.ranks.size() != 2)
        return diag_.add(path + "/in", "favor reads a projection X W and the tokens X, both with two ranks"), false;
      if (y.ranks[0] == x.ranks[0]) {
        s->tokens_in_cols = false;
      } else if (y.ranks[0] == x.ranks[1]) {
        s->tokens_in_cols = true;
      } else {
        return diag_.add(path + "/in",
                         "favor: the first rank of " + y.name + " (the token) must index " + x.name + " too"),
               false;
      }
      if (y.ranks[1] == x.ranks[0] || y.ranks[1] == x.ranks[1])
        return diag_.add(path + "/in", "favor: the second rank of " + y.name + " (the norm's) is not one of " + x.name),
               false;
      s->over = y.ranks[1];
      if (s->scale.empty()) s->scale = "1/sqrt(sqrt(" + d_.ranks[std::size_t(s->over)].name + "))";
      if (oranks != rank_names(x)) return diag_.add(path + "/out", "favor writes the indices of " + x.name), false;
      s->out = out_tensor(oname, oranks, path + "/out", ElemKind::Operand);
      return s->out >= 0;
    }
    if (op == "segment_mean") {
      s->kind = StepKind::SegmentMean;
      if (!inputs(1)) return false;
      const TensorDecl& x = d_.tensors[std::size_t(s->in[0])];
      const std::vector<std::string> xr = rank_names(x);
      if (x.ranks.size() != 2 || oranks.size() != 2 || oranks[1] != xr[1] || oranks[0] == xr[0] || oranks[0] == xr[1])
        return diag_.add(path + "/out", "segment_mean writes L[i," + (xr.size() == 2 ? xr[1] : std::string("e")) +
                                            "] from X[" + xr[0] + "," + (xr.size() == 2 ? xr[1] : std::string("e")) +
                                            "]: a new first rank (the segments), the same second rank"),
               false;
      s->over = x.ranks[0];
      s->out = out_tensor(oname, oranks, path + "/out", ElemKind::Accumulator);
      return s->out >= 0;
    }
    // pinv: Z[j,i] = pinv(A[i,j], I[j,i]).
    s->kind = StepKind::Pinv;
    s->iterations = int(v.integer("iterations", std::int64_t(6), 1, 64));
    if (!inputs(2)) return false;
    const TensorDecl &a = d_.tensors[std::size_t(s->in[0])], &id = d_.tensors[std::size_t(s->in[1])];
    if (a.ranks.size() != 2) return diag_.add(path + "/in", "pinv inverts a matrix A[i,j]"), false;
    const std::vector<int> swapped = {a.ranks[1], a.ranks[0]};
    if (id.ranks != swapped)
      return diag_.add(path + "/in", "pinv's second input is the identity, indexed like A transposed (" +
                                         d_.ranks[std::size_t(a.ranks[1])].name + "," +
                                         d_.ranks[std::size_t(a.ranks[0])].name + ")"),
             false;
    std::vector<std::string> want = {d_.ranks[std::size_t(a.ranks[1])].name, d_.ranks[std::size_t(a.ranks[0])].name};
    if (oranks != want)
      return diag_.add(path + "/out", "pinv writes A's indices swapped: [" + want[0] + "," + want[1] + "]"), false;
    s->out = out_tensor(oname, oranks, path + "/out", ElemKind::Operand);
    return s->out >= 0;
  }

  const Json& doc_;
  Diagnostics diag_;
  CascadeDesc d_;
  std::set<std::string> defined_, written_;
};

}  // namespace

const char* to_string(StepKind k) {
  switch (k) {
    case StepKind::Contract:
      return "contraction";
    case StepKind::Softmax:
      return "softmax";
    case StepKind::Map:
      return "map";
    case StepKind::Reduce:
      return "reduce";
    case StepKind::Favor:
      return "favor";
    case StepKind::SegmentMean:
      return "segment_mean";
    case StepKind::Pinv:
      return "pinv";
    case StepKind::Gather:
      return "gather";
  }
  return "?";
}

bool row_wise(const StepDecl& st) {
  return st.kind == StepKind::Softmax || st.kind == StepKind::Reduce ||
         (st.kind == StepKind::Map &&
          (st.map == MapOp::L2Norm || st.map == MapOp::LayerNorm || st.map == MapOp::RmsNorm));
}

const char* to_string(MapOp op) {
  return std::size_t(op) < std::size_t(MapOp::kCount) ? kMapNames[std::size_t(op)] : "?";
}

int CascadeDesc::rank_index(const std::string& n) const {
  for (std::size_t i = 0; i < ranks.size(); ++i)
    if (ranks[i].name == n) return int(i);
  return -1;
}

int CascadeDesc::tensor_index(const std::string& n) const {
  for (std::size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].name == n) return int(i);
  return -1;
}

bool eval_expr(const std::string& text, const std::map<std::string, double>& names, double* value, std::string* why) {
  return ExprParser(text, names).parse(value, why);
}

CascadeDesc parse_cascade(const Json& doc, const std::string& source) { return Reader(doc, source).read(); }

CascadeDesc load_cascade(const std::string& path) { return parse_cascade(read_json_file(path), path); }

int Cascade::producer(int t) const {
  for (std::size_t s = 0; s < desc.steps.size(); ++s)
    if (desc.steps[s].out == t) return int(s);
  return -1;
}

std::vector<int> Cascade::step_ranks(int s) const {
  std::vector<int> r;
  const StepDecl& st = step(s);
  auto add = [&](int t) {
    for (int x : tensor(t).ranks)
      if (std::find(r.begin(), r.end(), x) == r.end()) r.push_back(x);
  };
  add(st.out);
  for (int t : st.in) add(t);
  return r;
}

Cascade bind_cascade(const CascadeDesc& d, const std::map<std::string, double>& symbols, bool causal) {
  Diagnostics diag(d.source);
  Cascade c;
  c.desc = d;
  std::map<std::string, double> names = symbols;
  for (const auto& [k, v] : d.params) names[k] = v;
  for (const RankDecl& r : d.ranks) {
    double v = 0;
    std::string why;
    if (!eval_expr(r.extent, names, &v, &why)) {
      diag.add(r.path, why);
      v = 1;
    } else if (v < 1 || v != std::floor(v) || v > double(1 << 30)) {
      diag.add(r.path, "an extent must be a positive integer up to 2^30, got " + r.extent + " = " + std::to_string(v));
      v = 1;
    }
    c.extent.push_back(std::int64_t(v));
  }
  for (std::size_t i = 0; i < d.ranks.size(); ++i) names[d.ranks[i].name] = double(c.extent[i]);
  for (const StepDecl& s : d.steps) {
    double v = 1;
    std::string why;
    if (!s.scale.empty() && !eval_expr(s.scale, names, &v, &why)) diag.add(s.path + "/scale", why);
    c.scale.push_back(float(v));
    bool masked = s.kind == StepKind::Softmax && (s.mask == Mask::Causal || (s.mask == Mask::Layer && causal));
    if (masked) {
      const TensorDecl& x = c.tensor(s.in[0]);
      if (c.extent[std::size_t(x.ranks[0])] != c.extent[std::size_t(x.ranks[1])])
        diag.add(s.path + "/mask",
                 "a causal mask needs the softmax's row and column ranks to index the same tokens "
                 "(equal extents)");
    }
    c.causal.push_back(masked ? 1 : 0);
    // Performer, Nystromformer: shapes that only the extents decide.
    if (s.kind == StepKind::SegmentMean &&
        c.extent[std::size_t(c.tensor(s.out).ranks[0])] > c.extent[std::size_t(c.tensor(s.in[0]).ranks[0])])
      diag.add(s.path + "/out", "segment_mean makes at most as many segments as its input has rows");
    if (s.kind == StepKind::Pinv) {
      const auto& r = c.tensor(s.in[0]).ranks;
      if (c.extent[std::size_t(r[0])] != c.extent[std::size_t(r[1])])
        diag.add(s.path + "/in", "pinv inverts a square matrix (equal extents)");
    }
    // Low-rank variants' step kinds: extents their rules need.
    if (s.kind == StepKind::Map && s.map == MapOp::AddRow && c.extent[std::size_t(c.tensor(s.in[1]).ranks[0])] != 1)
      diag.add(s.path + "/in",
               "add_row's bias " + c.tensor(s.in[1]).name + " must have one row (its first rank of extent 1)");
    // Row-wise ops of a model's layers: the parameter rows the vector unit reads.
    if (s.kind == StepKind::Map && (s.map == MapOp::LayerNorm || s.map == MapOp::RmsNorm)) {
      const std::int64_t want = s.map == MapOp::LayerNorm ? 2 : 1;
      if (c.extent[std::size_t(c.tensor(s.in[1]).ranks[0])] != want)
        diag.add(s.path + "/in", std::string(to_string(s.map)) + "'s parameters " + c.tensor(s.in[1]).name +
                                     " must have " + (want == 2 ? "two rows (scale, shift)" : "one row (the scale)") +
                                     ": their first rank of extent " + std::to_string(want));
    }
    if (s.kind == StepKind::Gather &&
        c.extent[std::size_t(c.tensor(s.out).ranks[0])] > c.extent[std::size_t(c.tensor(s.in[0]).ranks[0])])
      diag.add(s.path + "/out", "gather takes at most as many rows as " + c.tensor(s.in[0]).name + " has");
  }
  diag.throw_if_any();
  return c;
}

const Json& vanilla_attention_json() {
  static const Json j = Json::parse(R"json({
    "name": "vanilla",
    "description": "softmax attention O = softmax(Q K^T / sqrt(d)) V",
    "ranks": {"m": "N", "p": "N", "e": "d", "f": "d"},
    "inputs": {"Q": ["m", "e"], "K": ["p", "e"], "V": ["p", "f"]},
    "outputs": {"O": ["m", "f"]},
    "steps": ["S[m,p] = Q[m,e] * K[p,e]",
              {"out": "P[m,p]", "op": "softmax", "over": "p", "in": "S", "scale": "1/sqrt(e)"},
              "O[m,f] = P[m,p] * V[p,f]"]
  })json");
  return j;
}

const Json& gemm_json() { return builtin_cascade_json("gemm"); }

}  // namespace attnsim::cascade
