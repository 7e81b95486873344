// SPDX-License-Identifier: Apache-2.0
// Live usage's list of every policy that applies to one caller (user on model, as a check of it
// would be resolved: POST /admin/explain, nothing charged), kept live from the page's event stream:
// each policy's count against its limit, what is left, how often it refused since the server
// started, and the one that binds highlighted (the refusing one, else the nearest its limit by
// share — bindingPolicy(), the Check page's rule). A concurrency policy refusing while the
// requests line shows headroom is seen here.
#pragma once

#include "decision.h"

#include <QHash>
#include <QSet>
#include <QWidget>

class QJsonObject;
class QLabel;
class QTreeWidget;

namespace sluice {

// " tokens", " held" or nothing (requests), after a count.
QString unitSuffix(Unit unit);
// A policy's window in words: "1 hour", "at once" (concurrent), "bucket, refills per 1 minute".
QString usageWindowText(const PolicyUsage &u);

class CallerPolicies : public QWidget
{
    Q_OBJECT
public:
    explicit CallerPolicies(QWidget *parent = nullptr);

    // The caller's policies as the explanation gave them (their labels, keys, units, limits).
    void setPolicies(const QString &caller, const QList<PolicyUsage> &policies);
    // Nothing listed, and why ("name a user and a model …", an error in red).
    void clear(const QString &why);
    // The window keys to keep live (the page adds them to its event stream).
    QList<QByteArray> keys() const;
    bool isEmpty() const { return m_policies.isEmpty(); }
    // One key of an /admin/events event (count, limit, remaining, blocked): updates its row.
    void update(const QJsonObject &key);

    // For tests: the caption; each row as "label|count / limit unit|left|refused|state"; the
    // label of the row that binds (empty when none).
    QString caption() const;
    QStringList rows() const;
    QString binding() const;

private:
    void redraw();
    int bindingIndex() const;

    QLabel *m_caption;
    QTreeWidget *m_table;
    QList<PolicyUsage> m_policies;
    QHash<QByteArray, qint64> m_refused; // refusals of each key since the server started
    QSet<QByteArray> m_read;             // keys the stream has given a count (until then: "—")
    QSet<QByteArray> m_gone;             // no policy governs the key any more (deleted, or the server restarted without it)
};

} // namespace sluice
