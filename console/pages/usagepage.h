// SPDX-License-Identifier: Apache-2.0
// The Live usage page: per-caller usage as a share of its limit over clock time (callers of
// different units on one axis; the limit one grey dashed line at 100 %, points at or over it
// marked red), from the server's /admin/events stream (every 250 ms), charted with Qt Charts. A
// time without data (the server unreachable) is a grey band with the lines broken across it, and a
// server that restarted meanwhile (its totals started again) is said. Callers are chosen by identity — scope, then tenant / user / model / tier / API key
// picked from the registry (editable for callers the registry does not know), and unit — or as "the
// most blocked" (GET /admin/top-blocked); never typed as raw window keys. Never polls: the server
// pushes; when the stream ends without the operator stopping it (the server went away), it
// reconnects with a growing pause (1, 2, 4, 5 s …) and carries on the same chart.
#pragma once

#include "checkrequest.h"
#include "models/usageseries.h"
#include "unit.h"

#include <QHash>
#include <QPointer>
#include <QWidget>
#include <optional>

class QChart;
class QComboBox;
class QDateTimeAxis;
class QLabel;
class QAreaSeries;
class QLineSeries;
class QScatterSeries;
class QNetworkReply;
class QPushButton;
class QTimer;
class QValueAxis;

namespace sluice {

class ApiClient;
class CallerPolicies;

class UsagePage : public QWidget
{
    Q_OBJECT
public:
    explicit UsagePage(ApiClient *client, QWidget *parent = nullptr);
    ~UsagePage() override;

    // Watches these window keys (replacing the watched ones) until stop().
    void watch(const QStringList &keys);
    void stop();
    // Fills the pickers from the registry (tenants, users, models, tiers).
    void refreshPickers();
    // The key of the caller the pickers name now ("" with the field it lacks in *why).
    QString pickedKey(QString *why = nullptr, Algorithm algorithm = Algorithm::SlidingLog) const;
    // Adds the picked caller to the watched keys (at most 10) and watches them; for scope
    // user_model, lists every policy a check of that user on that model goes through (kept live).
    void watchPicked();
    CallerPolicies *callerPolicies() const { return m_callerPolicies; }
    // Watches the n most blocked callers.
    void watchMostBlocked(int n = 5);
    // Asks, then empties the windows of the watched callers (DELETE /admin/usage/{key}).
    void resetWatched();
    QStringList watchedKeys() const { return m_watched; }
    bool isReconnecting() const;
    QString statusText() const;
    QComboBox *picker(const QString &name) const; // "scope", "tenant", "user", "model", "tier", "apiKey", "unit"
    const UsageSeries &series() const { return m_series; }
    // The time shown (1, 5 or 15 minutes), and a pause that freezes the chart while the data
    // keeps coming (drawn again when it resumes).
    void setRangeSeconds(int seconds);
    void setPaused(bool paused);
    bool isPaused() const { return m_paused; }
    qint64 shownRangeMs() const;
    QChart *chart() const { return m_chart; }
    // What the chart shows, for tests: bands without data, line segments of a key, points marked
    // red (at or over the limit), the note under the status line (a gap, a restart).
    int gapCount() const { return static_cast<int>(m_gaps.size()); }
    int segmentCount(const QString &key) const;
    int overLimitPoints(const QString &key) const;
    int refusalMarks(const QString &key) const; // moments the key was refused (triangles)
    QString noteText() const;
    QString axisTitle() const;

Q_SIGNALS:
    void updated();
    void pickersFilled();
    void watchedChanged();

private:
    void connectStream();
    void onEvent(const QJsonObject &event);
    std::optional<CheckRequest> pickedCaller() const; // scope user_model: the user on the model
    void explain(const CheckRequest &request);
    void restream(); // the stream opened again when the keys it should carry changed
    QStringList streamKeys() const; // the watched keys and the listed policies' keys
    void onStreamEnd(const QString &why, bool retry);
    void updatePickerStates();
    void clearChart();

    ApiClient *m_client;
    QComboBox *m_scope, *m_tenant, *m_user, *m_model, *m_tier, *m_apiKey, *m_unit;
    QLabel *m_watching;
    QLabel *m_status;
    QChart *m_chart;
    QDateTimeAxis *m_x;
    QValueAxis *m_y;
    QHash<QString, QLineSeries *> m_lines;                  // the current segment of each key
    QHash<QString, QList<QLineSeries *>> m_oldSegments;     // before a gap
    QHash<QString, double> m_segmentStart;                  // where the current segment starts (ms)
    QHash<QString, QScatterSeries *> m_overLimit;           // points at or over the limit, red
    QHash<QString, QScatterSeries *> m_refusalMarks;        // when the key was refused
    QHash<QString, QList<QPointF>> m_refusals;
    QHash<QString, qint64> m_refusedSoFar;                  // the server's count of refusals per key
    void trackRefusals(const QString &key, const QJsonObject &k, qint64 now);
    QLineSeries *m_limitLine = nullptr;                     // 100 %
    QList<QAreaSeries *> m_gaps;                            // no data: the server did not answer
    qint64 m_gapStartMs = -1;                               // the stream ended here (-1: it did not)
    qint64 m_lastEventMs = -1;
    qint64 m_lastAllowed = -1, m_lastBlocked = -1;          // the server's totals since it started
    QLabel *m_note;
    CallerPolicies *m_callerPolicies;
    std::optional<CheckRequest> m_explained; // the caller listed: explained again when the server comes back
    quint64 m_generation = 0;                // bumped by Watch, Clear and Stop: older answers are dropped
    QStringList m_streamedKeys;              // what the open stream carries
    QComboBox *m_range;
    QPushButton *m_pause;
    bool m_paused = false;
    UsageSeries m_series;
    QStringList m_watched;
    QPointer<QNetworkReply> m_stream;
    QTimer *m_reconnect;
    int m_backoffMs = 1000;
    bool m_stopping = false;
};

} // namespace sluice
