// SPDX-License-Identifier: Apache-2.0
// Charts follow the desktop's palette: a dark window gets Qt Charts' dark theme, a light one the
// light theme. Called on a chart before its series are added (a theme recolours series).
#pragma once

#include <QChart>
#include <QGuiApplication>
#include <QPalette>

namespace sluice {

inline bool desktopIsDark()
{
    return QGuiApplication::palette().color(QPalette::Window).lightness() < 128;
}

inline QChart *themedChart(QChart *chart)
{
    chart->setTheme(desktopIsDark() ? QChart::ChartThemeDark : QChart::ChartThemeLight);
    return chart;
}

} // namespace sluice
